// Click-to-call on the PBX (POST /api/calls/originate) over real HTTP and a
// real AMI session: the test PBX answers the Originate as Asterisk 22 does
// and plays the real dev-20 click-to-call calls (tests/fixtures/originate_pbx).

#include <httplib.h>

#include <optional>
#include <thread>

#include "adapters/store/database.hpp"
#include "tests/fixtures/e2e_support.hpp"
#include "tests/fixtures/events_support.hpp"
#include "tests/fixtures/originate_pbx.hpp"
#include "tests/fixtures/temp_dir.hpp"
#include "tests/fixtures/wait.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

const std::string read_token = "originate-read-token-0123456789";

int64_t seed_customer(const std::string& url, const std::string& name,
                      const std::string& phone) {
  auto db = e2e::open_db(url);
  customer c;
  c.name = name;
  c.phone = phone;
  c.phone_e164 = phone;
  auto added = db->add_customer(c);
  REQUIRE(added);
  return added->id;
}

/// A switchboard with one PBX whose AMI answers Originates per `options`.
struct originate_setup {
  scratch_dir dir{"sb-originate"};
  std::string url = "sqlite:" + dir.file("crm.db");
  std::unique_ptr<ami::replay_server> pbx;
  std::unique_ptr<event_instance> sb;

  explicit originate_setup(originate_pbx_options options = {},
                           const event_instance::tweak& adjust = {}) {
    e2e::quiet_logs();
    { auto db = e2e::open_db(url); }
    ami::replay_options opts;
    // Held: the PBX is quiet but for the calls the Originates place.
    opts.capture_path = ami_capture("dev-20-click-to-call");
    opts.held = true;
    opts.answer = originate_answerer(std::move(options));
    pbx = start_replay(opts);
    sb = std::make_unique<event_instance>(
        url, dir.file("spool"), pbx.get(), [adjust](app_config& cfg) {
          cfg.http.read_token = read_token;
          if (adjust)
            adjust(cfg);
        });
    httplib::Client c{"127.0.0.1", sb->port()};
    REQUIRE(wait_until(
        [&] {
          auto r = c.Get("/readyz");
          return r && r->status == 200;
        },
        10s));
  }

  httplib::Result post(const std::string& body,
                       const std::string& token = events_token) {
    httplib::Client c{"127.0.0.1", sb->port()};
    c.set_read_timeout(20, 0);
    return c.Post("/api/calls/originate",
                  {{"Authorization", "Bearer " + token}}, body,
                  "application/json");
  }

  /// The comms entries as GET /api/crm/comms shows them.
  rapidjson::Document comms() {
    httplib::Client c{"127.0.0.1", sb->port()};
    auto r = c.Get("/api/crm/comms?limit=50",
                   {{"Authorization", "Bearer " + events_token}});
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return parse_json(r->body);
  }

  /// Waits for the entry of `request_id`; null JSON when none came.
  rapidjson::Document entry_of(const std::string& request_id) {
    rapidjson::Document found;
    wait_until(
        [&] {
          auto doc = comms();
          for (auto& e : doc["entries"].GetArray())
            if (e["request_id"].IsString()
                && e["request_id"].GetString() == request_id) {
              found.CopyFrom(e, found.GetAllocator());
              return true;
            }
          return false;
        },
        20s);
    return found;
  }
};

std::string text(const rapidjson::Value& v, const char* key) {
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsString());
  return v[key].GetString();
}

} // namespace

TEST_CASE("originate: 202 with the request id once Asterisk queued it; the "
          "Originate is as configured and the call's events and entry carry "
          "the request id and the given customer") {
  originate_setup s;
  // Her own number is another: the customer comes from the request.
  auto ada = seed_customer(s.url, "Ada \"The\" Lovelace", "+442079460123");
  sse_client sub{s.sb->port(), "/api/events?since=0", events_token};

  auto r = s.post(R"({"extension":"1001","phone_number":"07700900555",)"
                  R"("customer_id":)"
                  + std::to_string(ada) + "}");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 202);
  auto body = parse_json(r->body);
  auto id = text(body, "request_id");
  CHECK(id.rfind("sb-orig-", 0) == 0);
  CHECK(text(body, "pbx") == "pbx1");
  CHECK(text(body, "extension") == "1001");
  CHECK(text(body, "phone_number") == "07700900555");

  std::vector<ami::recorded_action> originates;
  for (auto& a : s.pbx->actions())
    if (a.name == "Originate")
      originates.push_back(a);
  REQUIRE(originates.size() == 1);
  auto& a = originates[0];
  CHECK(a.get("ActionID") == id);
  CHECK(a.get("Channel") == "PJSIP/1001");
  CHECK(a.get("Context") == "from-internal");
  CHECK(a.get("Exten") == "07700900555");
  CHECK(a.get("Priority") == "1");
  CHECK(a.get("Async") == "true");
  CHECK(a.get("Timeout") == "30000");
  // Quotes in the name would end the CallerID's display name early.
  CHECK(a.get("CallerID") == "\"Ada The Lovelace\" <07700900555>");
  CHECK(a.get("Variable") == "SWITCHBOARD_REQUEST_ID=" + id);

  auto entry = s.entry_of(id);
  REQUIRE(entry.IsObject());
  CHECK(entry["customer_id"].GetInt64() == ada);
  CHECK(text(entry, "customer_name") == "Ada \"The\" Lovelace");
  CHECK(text(entry, "direction") == "outbound");
  CHECK(text(entry, "external_number") == "07700900555");
  CHECK(text(entry, "extension") == "1001");
  CHECK(text(entry, "disposition") == "answered");
  CHECK(text(entry, "origin") == "pbx1");

  REQUIRE(sub.read_type("call.logged", 20s));
  auto* ringing = sub.find("call.ringing");
  REQUIRE(ringing != nullptr);
  auto ring = parse_json(ringing->data);
  CHECK(text(ring["data"], "request_id") == id);
  REQUIRE(ring["data"]["customer"].IsObject());
  CHECK(ring["data"]["customer"]["id"].GetInt64() == ada);
  CHECK(ring["data"]["customer"]["name"].GetString()
        == std::string{"Ada \"The\" Lovelace"});
  auto logged = parse_json(sub.find("call.logged")->data);
  CHECK(text(logged["data"]["entry"], "request_id") == id);
  CHECK(logged["data"]["entry"]["customer_id"].GetInt64() == ada);
  CHECK(sub.find("call.originate_failed") == nullptr);
}

TEST_CASE("originate: the agent never answers, or is busy: "
          "call.originate_failed, and the unanswered call is logged with "
          "its request id") {
  auto play = GENERATE(originate_play::agent_no_answer,
                       originate_play::agent_busy);
  originate_pbx_options options;
  options.plays = {{"1002", play}};
  originate_setup s{options};
  auto bob = seed_customer(s.url, "Bob", "+447700900001");
  sse_client sub{s.sb->port(), "/api/events?since=0", events_token};

  auto r = s.post(R"({"extension":"1002","phone_number":"+442079460777",)"
                  R"("pbx":"pbx1","customer_id":)"
                  + std::to_string(bob) + "}");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 202);
  auto id = text(parse_json(r->body), "request_id");

  REQUIRE(sub.read_type("call.originate_failed", 20s));
  auto failed = parse_json(sub.find("call.originate_failed")->data);
  CHECK(text(failed, "origin") == "pbx1");
  auto& data = failed["data"];
  REQUIRE(data["customer"].IsObject());
  CHECK(data["customer"]["id"].GetInt64() == bob);
  CHECK(text(data["customer"], "name") == "Bob");
  CHECK(text(data, "request_id") == id);
  CHECK(text(data, "extension") == "1002");
  CHECK(text(data, "phone_number") == "+442079460777");
  bool busy = play == originate_play::agent_busy;
  CHECK(text(data, "reason") == (busy ? "busy" : "no_answer"));
  CHECK(data["reason_code"].GetInt64() == (busy ? 5 : 3));

  auto entry = s.entry_of(id);
  REQUIRE(entry.IsObject());
  CHECK(entry["customer_id"].GetInt64() == bob);
  CHECK(text(entry, "direction") == "outbound");
  CHECK(text(entry, "external_number") == "+442079460777");
  CHECK(text(entry, "extension") == "1002");
  CHECK(text(entry, "disposition") == (busy ? "busy" : "no_answer"));
  CHECK(text(data, "call_id") == text(entry, "ext_message_id"));
}

TEST_CASE("originate: an endpoint that does not exist places no call: "
          "call.originate_failed only, no entry") {
  originate_setup s;
  sse_client sub{s.sb->port(), "/api/events?since=0", events_token};
  auto r = s.post(R"({"extension":"9999","phone_number":"07700900555"})");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  auto id = text(parse_json(r->body), "request_id");
  REQUIRE(sub.read_type("call.originate_failed", 20s));
  auto failed = parse_json(sub.find("call.originate_failed")->data);
  CHECK(text(failed["data"], "request_id") == id);
  CHECK(text(failed["data"], "reason") == "failed");
  CHECK(text(failed["data"], "extension") == "9999");
  CHECK(failed["data"]["customer"].IsNull());
  // The PBX has said all it will about it: no channel, so no call.
  CHECK(s.comms()["entries"].Size() == 0);
}

TEST_CASE("originate: an AMI user without the originate write class is 502 "
          "naming the class") {
  originate_pbx_options options;
  options.denied = true;
  originate_setup s{options};
  auto r = s.post(R"({"extension":"1001","phone_number":"07700900555"})");
  REQUIRE(r);
  CHECK(r->status == 502);
  auto body = parse_json(r->body);
  CHECK(text(body, "error") == "pbx_refused");
  CHECK_THAT(text(body, "message"),
             Catch::Contains("Permission denied")
                 && Catch::Contains("'originate' write class"));
}

TEST_CASE("originate: a PBX that does not answer the action is 504; past "
          "max_pending_originates it is 503") {
  originate_pbx_options options;
  options.silent = true;
  originate_setup s{options, [](app_config& cfg) {
                      cfg.pbxes[0].originate_answer_seconds = 1;
                      cfg.pbxes[0].max_pending_originates = 1;
                    }};
  std::optional<httplib::Result> first;
  std::thread waiting{[&] {
    first.emplace(
        s.post(R"({"extension":"1001","phone_number":"07700900555"})"));
  }};
  REQUIRE(s.pbx->wait_for_actions("Originate", 1, 10s));
  auto second = s.post(R"({"extension":"1002","phone_number":"07700900556"})");
  waiting.join();
  REQUIRE(second);
  CHECK(second->status == 503);
  CHECK_THAT(text(parse_json(second->body), "message"),
             Catch::Contains("waiting for the PBX's answer"));
  REQUIRE(first);
  REQUIRE(*first);
  CHECK((*first)->status == 504);
  CHECK_THAT(text(parse_json((*first)->body), "message"),
             Catch::Contains("did not answer the Originate within 1 s"));
  // The second never reached the PBX.
  size_t sent = 0;
  for (auto& a : s.pbx->actions())
    sent += a.name == "Originate" ? 1 : 0;
  CHECK(sent == 1);
}

TEST_CASE("originate: no PBX connected is 503; no PBX configured is 503") {
  e2e::quiet_logs();
  scratch_dir dir{"sb-originate"};
  auto url = "sqlite:" + dir.file("crm.db");
  { auto db = e2e::open_db(url); }
  auto body = std::string{R"({"extension":"1001","phone_number":"0770090055"})"};
  auto post = [&](uint16_t port) {
    httplib::Client c{"127.0.0.1", port};
    return c.Post("/api/calls/originate",
                  {{"Authorization", "Bearer " + events_token}}, body,
                  "application/json");
  };
  SECTION("connection refused") {
    ami::replay_options opts;
    opts.capture_path = ami_capture("dev-20-click-to-call");
    auto pbx = start_replay(opts);
    auto gone = local_pbx(*pbx);
    pbx.reset(); // nothing listens there any more
    event_instance sb{url, dir.file("spool"), nullptr,
                      [gone](app_config& cfg) {
                        auto p = gone;
                        p.name = "pbx1";
                        cfg.pbxes = {p};
                      }};
    auto r = post(sb.port());
    REQUIRE(r);
    CHECK(r->status == 503);
    auto doc = parse_json(r->body);
    CHECK_THAT(text(doc, "message"), Catch::Contains("pbx1")
                                         && Catch::Contains("not connected"));
  }
  SECTION("none configured") {
    event_instance sb{url, dir.file("spool"), nullptr};
    auto r = post(sb.port());
    REQUIRE(r);
    CHECK(r->status == 503);
  }
}

TEST_CASE("originate: bad requests change nothing and say what is wrong") {
  originate_setup s;
  auto check = [&](const std::string& body, int status,
                   const std::string& says,
                   const std::string& token = events_token) {
    auto r = s.post(body, token);
    REQUIRE(r);
    INFO(body << " -> " << r->body);
    CHECK(r->status == status);
    CHECK_THAT(r->body, Catch::Contains(says));
  };
  check("{not json", 400, "invalid_json");
  check("[1]", 400, "object");
  check(R"({"phone_number":"07700900555"})", 422, "extension");
  check(R"({"extension":"1001"})", 422, "phone_number");
  check(R"({"extension":"1001","phone_number":"0770 abc"})", 422,
        "phone_number must be digits");
  check(R"({"extension":"10\r\n01","phone_number":"07700900555"})", 422,
        "extension must be");
  check(R"({"extension":"1001","phone_number":"07700900555",)"
        R"("customer_id":424242})",
        422, "no customer with id 424242");
  check(R"({"extension":"1001","phone_number":"07700900555","pbx":"nope"})",
        404, "no PBX named 'nope'");
  check(R"({"extension":"1001","phone_number":"07700900555"})", 403,
        "forbidden", read_token);
  check(std::string(2 * 1024 * 1024, ' '), 413, "payload_too_large");
  for (auto& a : s.pbx->actions())
    CHECK(a.name != "Originate");
}
