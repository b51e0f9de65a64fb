// A contact centre on CloudAgent against the real switchboard binary: many
// agents in one process, agent tokens, CloudAgent's own events (Subscribe
// API, played by the local CloudAgent test server), call state that
// survives kill -9, Force Ready, and the seed's request bodies.

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <rapidjson/document.h>

#include "adapters/store/database.hpp"
#include "tests/fixtures/e2e_harness.hpp"
#include "tests/fixtures/ozonetel_server.hpp"
#include "tests/fixtures/prometheus_scrape_support.hpp"

using namespace sb::scrape_test;

namespace {

const std::string api_token = "agents-write-token-000111222";
const std::string events_token = "agents-cb-token-4455";

struct reply {
  int status = -1;
  rapidjson::Document json;
  std::string body;

  std::string text(const char* key) const {
    if (!json.IsObject() || !json.HasMember(key) || !json[key].IsString())
      return {};
    return json[key].GetString();
  }
};

reply call(uint16_t port, const std::string& method, const std::string& path,
           const std::string& body = {}, const std::string& token = api_token) {
  httplib::Client c{"127.0.0.1", port};
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(20, 0);
  httplib::Headers h{{"Authorization", "Bearer " + token}};
  httplib::Result res = method == "GET"    ? c.Get(path, h)
                        : method == "DELETE" ? c.Delete(path, h)
                                             : c.Post(path, h, body,
                                                      "application/json");
  reply r;
  if (res) {
    r.status = res->status;
    r.body = res->body;
    r.json.Parse(res->body.c_str());
  }
  return r;
}

/// The switchboard binary on a SQLite file, talking to the test CloudAgent,
/// subscribed to its events.
struct centre {
  sb::test::ozonetel_server& fake;
  scratch_dir& dir;
  double acw_seconds;
  /// Empty: a SQLite file in `dir`.
  std::string database;
  running_server server;
  int run = 0;

  centre(sb::test::ozonetel_server& f, scratch_dir& d, double acw = 30,
         std::string db = {})
      : fake(f), dir(d), acw_seconds(acw), database(std::move(db)) {
    start();
  }

  std::string db_url() const {
    return database.empty() ? "sqlite:" + (dir.path() / "crm.db").string()
                            : database;
  }

  std::string log() const {
    return read_text(server.process->log());
  }

  void start() {
    auto run_dir = dir.path() / ("run-" + std::to_string(++run));
    fs::create_directories(run_dir);
    auto& o = fake.opts();
    auto env = clean_environment(
        {"SWITCHBOARD_HTTP_TOKEN=" + api_token,
         "SWITCHBOARD_OZONETEL_API_KEY=" + o.api_key,
         "SWITCHBOARD_OZONETEL_AGENT_PASSWORD=" + o.agent_password,
         "SWITCHBOARD_OZONETEL_CALLBACK_TOKEN=" + events_token});
    server = start_switchboard(run_dir, env, [&](uint16_t port) {
      return std::vector<std::string>{
          "--db.url=" + db_url(),
          "--db.spool_path=" + (dir.path() / "spool").string(),
          "--ozonetel.api_base=" + fake.base_url(),
          "--ozonetel.account=" + o.account,
          "--ozonetel.agent_id=" + o.agent_id,
          "--ozonetel.campaign=" + o.campaign,
          "--ozonetel.did=" + o.did,
          "--ozonetel.acw_timeout_seconds=" + std::to_string(acw_seconds),
          "--ozonetel.subscribe_base=" + fake.base_url(),
          "--ozonetel.public_url=http://127.0.0.1:" + std::to_string(port),
          "--log.level=info"};
    });
    auto url = "http://127.0.0.1:" + std::to_string(server.port);
    INFO(log_tail(server.process->log()));
    REQUIRE(wait_until(milliseconds{15000}, milliseconds{20}, [&] {
      return fake.call_events_url().rfind(url, 0) == 0;
    }));
  }

  uint16_t port() const {
    return server.port;
  }

  std::vector<sb::comms_entry> entries() {
    auto db = sb::store::database::open(db_url());
    REQUIRE(db);
    sb::comms_query q;
    q.source = "ozonetel";
    q.limit = 500;
    auto rows = (*db)->query_comms(q);
    REQUIRE(rows);
    return *rows;
  }

  /// A new agent over HTTP (also known to the test CloudAgent); its token.
  std::string add_agent(const std::string& id) {
    fake.add_agent(id, "pw-" + id);
    auto r = call(port(), "POST", "/api/ozonetel/agents",
                  R"({"id":")" + id + R"(","name":"Agent )" + id
                      + R"(","extension":"7)" + id.substr(id.size() - 2)
                      + R"(","password":"pw-)" + id + R"("})");
    REQUIRE(r.status == 201);
    auto token = r.text("token");
    REQUIRE(token.rfind("sbat_", 0) == 0);
    return token;
  }
};

size_t saved_for(const sb::test::ozonetel_server& fake,
                 const std::string& ucid) {
  size_t n = 0;
  for (auto& [u, agent] : fake.saved_dispositions())
    n += u == ucid ? 1 : 0;
  return n;
}

} // namespace

TEST_CASE("50 agents dial, answer, end and dispose at once: 50 entries, 50 "
          "dispositions with the right agent each, one token",
          "[agents][process]") {
  sb::test::ozonetel_server fake;
  scratch_dir dir{"sb-agents"};
  centre c{fake, dir};
  std::vector<std::string> ids;
  std::vector<std::string> tokens;
  for (int i = 0; i < 50; ++i) {
    auto id = "agent" + std::to_string(100 + i);
    ids.push_back(id);
    tokens.push_back(c.add_agent(id));
  }
  std::vector<std::string> ucids(50);
  std::vector<int> disposed(50, 0);
  std::vector<std::thread> seats;
  for (int i = 0; i < 50; ++i)
    seats.emplace_back([&, i] {
      // The agent's browser holds only its own token.
      auto dialed = call(c.port(), "POST", "/api/ozonetel/dial",
                         R"({"phoneNumber":"+9198450)" + std::to_string(10000 + i)
                             + R"("})",
                         tokens[i]);
      if (dialed.status != 200)
        return;
      ucids[i] = dialed.text("ucid");
      fake.post_call_event("Answered", ucids[i], ids[i]);
      fake.post_call_event("Disconnect", ucids[i], ids[i]);
      auto d = call(c.port(), "POST", "/api/ozonetel/dispose",
                    R"({"ucid":")" + ucids[i]
                        + R"(","disposition":"INFO_PROVIDED"})",
                    tokens[i]);
      disposed[i] = d.status;
    });
  for (auto& t : seats)
    t.join();
  for (int i = 0; i < 50; ++i) {
    INFO("agent " << ids[i]);
    CHECK(!ucids[i].empty());
    CHECK(disposed[i] == 200);
  }
  REQUIRE(wait_until(milliseconds{20000}, milliseconds{50},
                     [&] { return c.entries().size() == 50; }));
  auto saved = fake.saved_dispositions();
  CHECK(saved.size() == 50);
  for (int i = 0; i < 50; ++i)
    for (auto& [ucid, agent] : saved)
      if (ucid == ucids[i])
        CHECK(agent == ids[i]);
  for (auto& e : c.entries())
    CHECK(e.disposition == "answered");
  CHECK(fake.token_generations() == 1);
}

TEST_CASE("an inbound call known only from CloudAgent's events becomes one "
          "right entry; late, repeated and out-of-order events change "
          "nothing",
          "[agents][process]") {
  sb::test::ozonetel_server fake;
  scratch_dir dir{"sb-agents-events"};
  centre c{fake, dir, 1};
  auto agent = fake.opts().agent_id;
  std::map<std::string, std::string> inbound{{"call_type", "InBound"},
                                             {"caller_id", "9845012345"}};
  CHECK(fake.post_call_event("Calling", "UCID-IN-1", agent, inbound) == 200);
  CHECK(fake.post_call_event("Answered", "UCID-IN-1", agent, inbound) == 200);
  CHECK(fake.post_call_event("Answered", "UCID-IN-1", agent, inbound) == 200);
  auto state = call(c.port(), "GET", "/api/ozonetel/agents/" + agent + "/state");
  REQUIRE(state.status == 200);
  CHECK(state.json["current_call"]["ucid"].GetString()
        == std::string{"UCID-IN-1"});
  CHECK_FALSE(state.json["ready"].GetBool());
  CHECK(fake.post_call_event("Disconnect", "UCID-IN-1", agent, inbound) == 200);
  // Late and out of order: a Calling and an Answered after the end.
  CHECK(fake.post_call_event("Calling", "UCID-IN-1", agent, inbound) == 200);
  CHECK(fake.post_call_event("Answered", "UCID-IN-1", agent, inbound) == 200);
  // No disposition from the browser: after-call work times out, the default
  // disposition goes out, the entry is written.
  REQUIRE(wait_until(milliseconds{15000}, milliseconds{50},
                     [&] { return c.entries().size() == 1; }));
  auto e = c.entries().front();
  CHECK(e.direction == "inbound");
  CHECK(e.disposition == "answered");
  CHECK(e.ucid == "UCID-IN-1");
  CHECK(e.extension == agent);
  CHECK(e.external_number.find("9845012345") != std::string::npos);
  CHECK(saved_for(fake, "UCID-IN-1") == 1);
  // A forged event (no token) is refused.
  httplib::Client raw{"127.0.0.1", c.port()};
  auto forged = raw.Post("/api/ozonetel/events/calls?token=wrong",
                         R"({"action":"Disconnect","ucid":"X"})",
                         "application/json");
  REQUIRE(forged);
  CHECK(forged->status == 401);
}

TEST_CASE("kill -9 during after-call work: after the restart the disposition "
          "reaches CloudAgent exactly once and the entry is right",
          "[agents][process]") {
  sb::test::ozonetel_server fake;
  scratch_dir dir{"sb-agents-kill"};
  centre c{fake, dir, 4};
  auto agent = fake.opts().agent_id;
  auto dialed = call(c.port(), "POST", "/api/ozonetel/dial",
                     R"({"phone_number":"+919845099999"})");
  REQUIRE(dialed.status == 200);
  auto ucid = dialed.text("ucid");
  fake.post_call_event("Answered", ucid, agent);
  fake.post_call_event("Disconnect", ucid, agent);
  auto state = call(c.port(), "GET", "/api/ozonetel/agents/" + agent + "/state");
  REQUIRE(state.status == 200);
  REQUIRE(state.json["awaiting_disposition"].Size() == 1);
  REQUIRE(::kill(c.server.process->pid(), SIGKILL) == 0);
  c.server.process->stop(milliseconds{5000});
  CHECK(saved_for(fake, ucid) == 0);
  c.start();
  INFO(log_tail(c.server.process->log()));
  REQUIRE(wait_until(milliseconds{15000}, milliseconds{50}, [&] {
    return saved_for(fake, ucid) == 1 && c.entries().size() == 1;
  }));
  auto e = c.entries().front();
  CHECK(e.ucid == ucid);
  CHECK(e.direction == "outbound");
  CHECK(e.disposition == "answered");
  CHECK(e.body.find("set automatically") != std::string::npos);
  // A second restart sends nothing more.
  c.server.process->stop(milliseconds{5000});
  c.start();
  auto after = call(c.port(), "GET", "/api/ozonetel/agents/" + agent + "/state");
  CHECK(after.json["awaiting_disposition"].Size() == 0);
  CHECK(saved_for(fake, ucid) == 1);
  CHECK(fake.count("/ca_apis/DispositionAPIV2") == 1);
}

TEST_CASE("a disposition for a UCID switchboard never saw reaches CloudAgent "
          "for the named agent, with the seed's body",
          "[agents][process]") {
  sb::test::ozonetel_server fake;
  scratch_dir dir{"sb-agents-unknown"};
  centre c{fake, dir};
  auto token = c.add_agent("agent201");
  auto d = call(c.port(), "POST", "/api/ozonetel/dispose",
                R"({"ucid":"UNSEEN-77","disposition":"APPOINTMENT_BOOKED",)"
                R"("callerPhone":"+91 98450 11111","direction":"inbound",)"
                R"("durationSec":95,"leadId":"LEAD-42","notes":"booked"})",
                token);
  CHECK(d.status == 200);
  auto saved = fake.saved_dispositions();
  REQUIRE(saved.size() == 1);
  CHECK(saved[0].first == "UNSEEN-77");
  CHECK(saved[0].second == "agent201");
  REQUIRE(wait_until(milliseconds{15000}, milliseconds{50},
                     [&] { return c.entries().size() == 1; }));
  auto e = c.entries().front();
  CHECK(e.crm_ref == "LEAD-42");
  CHECK(e.direction == "inbound");
  CHECK(e.duration_seconds == 95);
  CHECK(e.extension == "agent201");
  CHECK(e.external_number == "+919845011111");
  CHECK(e.body.find("booked") != std::string::npos);
}

TEST_CASE("agent tokens: their own agent only, no CRM route; whoami; Ready "
          "refused during a call; Force Ready sends disposition, logout, "
          "login in that order",
          "[agents][process]") {
  sb::test::ozonetel_server fake;
  scratch_dir dir{"sb-agents-tokens"};
  centre c{fake, dir};
  auto mine = c.add_agent("agent301");
  c.add_agent("agent302");
  auto who = call(c.port(), "GET", "/api/whoami", {}, mine);
  REQUIRE(who.status == 200);
  CHECK(who.text("role") == "agent");
  CHECK(who.text("agent_id") == "agent301");
  CHECK(call(c.port(), "GET", "/api/whoami").text("role") == "write");
  // Another agent's routes, a CRM route, the agents list: 403.
  CHECK(call(c.port(), "GET", "/api/ozonetel/agents/agent302/state", {}, mine)
            .status
        == 403);
  CHECK(call(c.port(), "POST", "/api/ozonetel/dial",
             R"({"phoneNumber":"+919845000001","agent_id":"agent302"})", mine)
            .status
        == 403);
  CHECK(call(c.port(), "GET", "/api/crm/comms", {}, mine).status == 403);
  CHECK(call(c.port(), "GET", "/api/ozonetel/agents", {}, mine).status == 403);

  auto dialed = call(c.port(), "POST", "/api/ozonetel/dial",
                     R"({"phoneNumber":"+919845000002"})", mine);
  REQUIRE(dialed.status == 200);
  auto ucid = dialed.text("ucid");
  fake.post_call_event("Answered", ucid, "agent301");
  auto ready = call(c.port(), "POST", "/api/ozonetel/agents/agent301/state",
                    R"({"state":"Ready"})", mine);
  CHECK(ready.status == 409);
  CHECK(ready.text("message").find(ucid) != std::string::npos);
  fake.post_call_event("Disconnect", ucid, "agent301");
  CHECK(call(c.port(), "POST", "/api/ozonetel/agents/agent301/state",
             R"({"state":"Ready"})", mine)
            .status
        == 409);
  REQUIRE(call(c.port(), "POST", "/api/ozonetel/agents/agent301/login", {},
               mine)
              .status
          == 200);
  auto before = fake.requests().size();
  auto forced = call(c.port(), "POST",
                     "/api/ozonetel/agents/agent301/force-ready", {}, mine);
  INFO(forced.body);
  CHECK(forced.status == 200);
  std::vector<std::string> order;
  auto all = fake.requests();
  for (size_t i = before; i < all.size(); ++i) {
    if (all[i].path == "/ca_apis/DispositionAPIV2")
      order.push_back("disposition");
    else if (all[i].path == "/CAServices/AgentAuthenticationV2/index.php")
      order.push_back(all[i].form("action"));
  }
  CHECK(order == std::vector<std::string>{"disposition", "logout", "login"});
  CHECK(saved_for(fake, ucid) == 1);
  CHECK(fake.logged_in("agent301"));
  // A revoked token stops working at once.
  CHECK(call(c.port(), "DELETE", "/api/ozonetel/agents/agent301/token")
            .status
        == 200);
  CHECK(call(c.port(), "GET", "/api/whoami", {}, mine).status == 401);
  // CloudAgent's agent events are its word on the state.
  CHECK(fake.post_agent_event("agent302", "Ready") == 200);
  auto other = call(c.port(), "GET", "/api/ozonetel/agents/agent302/state");
  CHECK(other.text("cloudagent_state") == "ready");
  CHECK(other.json["ready"].GetBool());
}

TEST_CASE("a failing Subscribe call is retried with backoff until it "
          "succeeds, logged once, with its state and attempts in /readyz",
          "[agents][process]") {
  sb::test::ozonetel_server fake;
  // 503, a dropped connection, a 200 saying it failed, 503: the session
  // retries the first two itself, the third ends a round, the next round
  // meets the fourth and then succeeds.
  fake.fail_subscriptions(4);
  scratch_dir dir{"sb-agents-subscribe"};
  centre c{fake, dir};
  REQUIRE(wait_until(milliseconds{15000}, milliseconds{50}, [&] {
    auto r = call(c.port(), "GET", "/readyz");
    return r.json.IsObject() && r.json.HasMember("cloudagent")
           && r.json["cloudagent"]["subscription"] == "subscribed";
  }));
  auto ready = call(c.port(), "GET", "/readyz");
  auto& ca = ready.json["cloudagent"];
  CHECK(ca["subscription_attempts"].GetInt64() == 5);
  CHECK(ca["subscription_failures"].GetInt64() == 0);
  CHECK_FALSE(ca.HasMember("subscription_retry_at"));
  CHECK(fake.count("/events/subscribe") == 5);
  auto log = c.log();
  INFO(log_tail(c.server.process->log()));
  size_t failures_logged = 0;
  for (auto at = log.find("Subscribe call failed; retrying");
       at != std::string::npos;
       at = log.find("Subscribe call failed; retrying", at + 1))
    ++failures_logged;
  CHECK(failures_logged == 1);
  CHECK(log.find("subscribed to CloudAgent's events after failures")
        != std::string::npos);
  auto metrics = call(c.port(), "GET", "/metrics").body;
  CHECK(metrics.find("switchboard_ozonetel_subscribed 1") != std::string::npos);
  // Events reach the receivers it registered.
  CHECK(fake.post_agent_event(fake.opts().agent_id, "Ready") == 200);
}

TEST_CASE("kill -9 while the writer holds an entry it has not committed: "
          "after the restart the entry is written from the stored call, "
          "once",
          "[agents][process][postgresql]") {
  if (sb::test::test_pg_url().empty()) {
    WARN("SKIPPED: SB_TEST_PG_URL is not set (run through "
         "tests/with-databases.sh)");
    return;
  }
  sb::test::pg_scratch_database pg{"sb_agents_kill"};
  sb::test::ozonetel_server fake;
  scratch_dir dir{"sb-agents-kill9-entry"};
  centre c{fake, dir, 30, pg.url()};
  auto agent = fake.opts().agent_id;
  auto dialed = call(c.port(), "POST", "/api/ozonetel/dial",
                     R"({"phone_number":"+919845077777"})");
  REQUIRE(dialed.status == 200);
  auto ucid = dialed.text("ucid");
  fake.post_call_event("Answered", ucid, agent);
  fake.post_call_event("Disconnect", ucid, agent);
  // The worst moment, made certain: the call's state is stored and its
  // entry handed to the writer, whose INSERT waits on a lock this test
  // holds on the comms log (the call state's own table stays free).
  soci::session holder(soci::postgresql,
                       sb::test::pg_scratch_database::soci_url(pg.url()));
  holder << "BEGIN";
  holder << "LOCK TABLE crm_comms_log IN EXCLUSIVE MODE";
  auto d = call(c.port(), "POST", "/api/ozonetel/dispose",
                R"({"ucid":")" + ucid
                    + R"(","disposition":"APPOINTMENT_BOOKED","notes":"Fri"})");
  REQUIRE(d.status == 200);
  auto waiting_inserts = [&] {
    int n = 0;
    // The writer's backend waits on our lock (its query column may still
    // show the statement before the INSERT).
    holder << "SELECT count(*) FROM pg_stat_activity WHERE datname = "
              "current_database() AND wait_event_type = 'Lock' AND pid <> "
              "pg_backend_pid()",
        soci::into(n);
    return n;
  };
  auto activity = [&] {
    std::string out;
    soci::rowset<soci::row> rs = holder.prepare
        << "SELECT coalesce(state, ''), coalesce(wait_event_type, ''), "
           "left(coalesce(query, ''), 80) FROM pg_stat_activity WHERE "
           "datname = current_database()";
    for (auto& r : rs)
      out += r.get<std::string>(0) + " | " + r.get<std::string>(1) + " | "
             + r.get<std::string>(2) + "\n";
    return out;
  };
  bool blocked = wait_until(milliseconds{15000}, milliseconds{20},
                            [&] { return waiting_inserts() > 0; });
  INFO(activity());
  INFO(log_tail(c.server.process->log()));
  REQUIRE(blocked);
  std::string phase;
  holder << "SELECT phase FROM ozonetel_ucid_state WHERE ucid = :u",
      soci::use(ucid), soci::into(phase);
  CHECK(phase == "disposed");
  REQUIRE(::kill(c.server.process->pid(), SIGKILL) == 0);
  c.server.process->stop(milliseconds{5000});
  holder << "ROLLBACK";
  // The dead process's INSERT never commits: its transaction dies with it.
  REQUIRE(wait_until(milliseconds{15000}, milliseconds{20},
                     [&] { return waiting_inserts() == 0; }));
  CHECK(c.entries().empty());
  c.start();
  INFO(log_tail(c.server.process->log()));
  REQUIRE(wait_until(milliseconds{15000}, milliseconds{50},
                     [&] { return c.entries().size() == 1; }));
  auto e = c.entries().front();
  CHECK(e.ucid == ucid);
  CHECK(e.direction == "outbound");
  CHECK(e.disposition == "answered");
  CHECK(e.body.find("Fri") != std::string::npos);
  CHECK(c.log().find("call entry lost with the last process, sent again")
        != std::string::npos);
  // The disposition went out once, before the kill, and never again.
  CHECK(saved_for(fake, ucid) == 1);
  CHECK(fake.count("/ca_apis/DispositionAPIV2") == 1);
  // Another restart finds the entry committed: nothing is sent again.
  c.server.process->stop(milliseconds{5000});
  c.start();
  // Answered by ucid_calls after its start-up work (reload, checks, resends).
  REQUIRE(call(c.port(), "GET", "/api/ozonetel/agents/" + agent + "/state")
              .status
          == 200);
  CHECK(c.log().find("calls restored") != std::string::npos);
  CHECK(c.log().find("sent again") == std::string::npos);
  CHECK(c.entries().size() == 1);
  CHECK(fake.count("/ca_apis/DispositionAPIV2") == 1);
}
