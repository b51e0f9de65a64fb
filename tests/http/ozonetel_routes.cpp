// The /api/ozonetel/* endpoints over real HTTP on 127.0.0.1: http_server with
// the Ozonetel routes mounted, ucid_calls and its session talking to the
// local CloudAgent stand-in, and the real matcher and writer on SQLite.

#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>

#include <httplib.h>
#include <rapidjson/document.h>

#include "actors/comms_log_writer.hpp"
#include "actors/customer_matcher.hpp"
#include "adapters/store/database.hpp"
#include "http/ozonetel_routes.hpp"
#include "http/server.hpp"
#include "tests/fixtures/ozonetel_support.hpp"
#include "tests/fixtures/temp_dir.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

const std::string write_token = "oz-write-token-0123456789";
const std::string read_token = "oz-read-token-9876543210";

struct ozonetel_api {
  ozonetel_server fake;
  scratch_dir dir{"sb-oz-http"};
  actor_env env;
  app_config cfg;
  comms_log_writer_actor writer;
  customer_matcher_actor matcher;
  ucid_calls_actor calls;
  std::unique_ptr<sb::http_server> admin;
  uint16_t port = 0;

  explicit ozonetel_api(bool with_account = true, double acw_timeout = 30,
                        const std::string& timezone = "Asia/Kolkata") {
    cfg.db.url = "sqlite:" + (dir.path() / "crm.db").string();
    cfg.db.spool_path = (dir.path() / "crm.spool").string();
    cfg.http.listen = "127.0.0.1:0";
    cfg.http.token = write_token;
    cfg.http.read_token = read_token;
    cfg.http.threads = 4;
    cfg.phone.default_region = "IN";
    cfg.ozonetel = config_for(fake);
    cfg.ozonetel.acw_timeout_seconds = acw_timeout;
    cfg.ozonetel.timezone = timezone;
    if (!with_account) {
      cfg.ozonetel.account.clear();
      cfg.ozonetel.api_key.clear();
    }
    writer = env.sys.spawn<caf::detached>(comms_log_writer, cfg.db);
    matcher = env.sys.spawn(customer_matcher, cfg.phone, cfg.db.url, writer);
    {
      // The writer migrates the database at start; wait for it.
      caf::scoped_actor self{env.sys};
      self->request(writer, 10s, status_atom_v)
          .receive([](int64_t) {},
                   [](caf::error& err) { FAIL("writer: " << to_string(err)); });
    }
    if (with_account) {
      auto session_cfg = cfg.ozonetel;
      auto session_opts = fast_session_options();
      calls = env.sys.spawn(
          ucid_calls, cfg.ozonetel, matcher,
          [session_cfg, session_opts](caf::actor_system& sys) {
            return sys.spawn(ozonetel_session, session_cfg, session_opts);
          },
          ucid_calls_options{});
    }
    http_deps deps{env.sys, cfg};
    deps.writer = writer;
    deps.matcher = matcher;
    if (calls)
      deps.live_calls.push_back(live_calls_of(env.sys, "ozonetel", calls));
    admin = std::make_unique<sb::http_server>(std::move(deps));
    auto handle = calls;
    admin->add_routes([handle](http::router& r, const http_context& ctx) {
      mount_ozonetel_routes(r, ctx, handle);
    });
    auto bound = admin->start();
    REQUIRE(bound);
    port = *bound;
  }

  ~ozonetel_api() {
    admin->stop();
    for (auto a : {caf::actor_cast<caf::actor>(calls),
                   caf::actor_cast<caf::actor>(matcher),
                   caf::actor_cast<caf::actor>(writer)})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  httplib::Client client() const {
    httplib::Client c{"127.0.0.1", port};
    c.set_connection_timeout(5);
    c.set_read_timeout(20);
    return c;
  }

  httplib::Result post(const std::string& path, const std::string& json,
                       const std::string& token = write_token,
                       httplib::Headers extra = {}) {
    auto c = client();
    extra.emplace("Authorization", "Bearer " + token);
    return c.Post(path.c_str(), extra, json, "application/json");
  }

  std::unique_ptr<store::database> db() const {
    auto d = store::database::open(cfg.db.url);
    REQUIRE(d);
    return std::move(*d);
  }

  /// Waits (bounded) until the writer stored `n` rows.
  bool rows(int64_t n) const {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    auto d = db();
    while (std::chrono::steady_clock::now() < deadline) {
      auto count = d->count_comms();
      if (count && *count >= n)
        return *count == n;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
};

rapidjson::Document json_of(const httplib::Result& res) {
  REQUIRE(res);
  INFO("status " << res->status << " body " << res->body);
  rapidjson::Document doc;
  doc.Parse(res->body.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}

std::string text(const rapidjson::Value& v, const char* key) {
  if (!v.HasMember(key) || !v[key].IsString())
    return {};
  return v[key].GetString();
}

std::string error_of(const httplib::Result& res) {
  auto doc = json_of(res);
  CHECK_FALSE(text(doc, "message").empty());
  return text(doc, "error");
}

} // namespace

TEST_CASE("http: dial, events, callback and dispose make one comms-log row") {
  ozonetel_api api;
  auto dial = api.post("/api/ozonetel/dial",
                       R"({"phone_number":"+91 98450 12345","customer_id":7})");
  REQUIRE(dial);
  INFO(dial->body);
  REQUIRE(dial->status == 200);
  auto ucid = text(json_of(dial), "ucid");
  REQUIRE_FALSE(ucid.empty());
  CHECK(text(json_of(dial), "state") == "dialing");

  auto events = "/api/ozonetel/calls/" + ucid + "/events";
  CHECK(api.post(events, R"({"event":"ringing"})")->status == 200);
  auto answered = api.post(events, R"({"event":"answered"})");
  CHECK(text(json_of(answered), "state") == "answered");

  auto c = api.client();
  auto active
      = c.Get("/api/calls/active", {{"Authorization", "Bearer " + read_token}});
  REQUIRE(active);
  CHECK(active->status == 200);
  CHECK(active->body.find(ucid) != std::string::npos);

  api.fake.end_call(ucid);
  auto ended = api.post(events, R"({"event":"ended"})");
  CHECK(text(json_of(ended), "state") == "acw");

  // CloudAgent's callback carries the token in its URL, no header.
  auto form = api.fake.callback_form({{"monitorUCID", ucid},
                                      {"CallerID", "+919845012345"},
                                      {"AgentID", api.fake.opts().agent_id},
                                      {"Duration", "00:01:10"},
                                      {"CallDuration", "00:00:55"},
                                      {"Status", "Answered"},
                                      {"Type", "Manual"}});
  auto cb = c.Post("/api/ozonetel/callback?token=cb-token-77aa", form,
                   "application/x-www-form-urlencoded");
  REQUIRE(cb);
  INFO(cb->body);
  CHECK(cb->status == 200);
  CHECK(text(json_of(cb), "state") == "acw");

  auto disposed = api.post(
      "/api/ozonetel/dispose",
      R"({"ucid":")" + ucid
          + R"(","disposition":"APPOINTMENT_BOOKED","notes":"Tue 10:00"})");
  REQUIRE(disposed);
  INFO(disposed->body);
  CHECK(disposed->status == 200);
  auto doc = json_of(disposed);
  CHECK(text(doc, "code") == "ok");
  CHECK(text(doc, "state") == "disposed");
  CHECK(text(doc, "disposition") == "Appointment Booked");
  REQUIRE(doc.HasMember("cloudagent"));
  CHECK(text(doc["cloudagent"], "api") == "DispositionAPIV2");
  CHECK(api.fake.count("/ca_apis/DispositionAPIV2") == 1);

  REQUIRE(api.rows(1));
  auto row = api.db()->find_comms("ozonetel", ucid);
  REQUIRE(row);
  REQUIRE(*row);
  auto& entry = **row;
  CHECK(entry.ucid == ucid);
  CHECK(entry.direction == "outbound");
  CHECK(entry.disposition == "answered");
  CHECK(entry.external_number == "+919845012345");
  CHECK(entry.duration_seconds == 70);
  CHECK(entry.talk_seconds == 55);
  CHECK(entry.body.find("Appointment Booked") != std::string::npos);
  CHECK(entry.body.find("Tue 10:00") != std::string::npos);
  CHECK(entry.body.find(api.fake.opts().api_key) == std::string::npos);

  // Disposing again changes nothing.
  auto again
      = api.post("/api/ozonetel/dispose",
                 R"({"ucid":")" + ucid + R"(","disposition":"INFO_PROVIDED"})");
  CHECK(again->status == 409);
  CHECK(error_of(again) == "conflict");
  CHECK(api.fake.count("/ca_apis/DispositionAPIV2") == 1);
}

TEST_CASE("http: dispose first, callback later: still one row") {
  ozonetel_api api;
  const std::string ucid = "9300000000000555";
  api.fake.add_inbound_call(ucid);
  // No UCID in the URL: the browser passes the SIP X-UCID header along.
  auto ring = api.post("/api/ozonetel/calls/-/events",
                       R"({"event":"ringing","caller":"+919800000002"})",
                       write_token, {{"X-UCID", ucid}});
  REQUIRE(ring);
  INFO(ring->body);
  CHECK(ring->status == 200);
  CHECK(text(json_of(ring), "ucid") == ucid);
  auto events = "/api/ozonetel/calls/" + ucid + "/events";
  api.post(events, R"({"event":"answered"})");
  api.fake.end_call(ucid);
  api.post(events, R"({"event":"ended"})");
  auto disposed
      = api.post("/api/ozonetel/dispose",
                 R"({"ucid":")" + ucid + R"(","disposition":"INFO_PROVIDED"})");
  CHECK(disposed->status == 200);
  REQUIRE(api.rows(1));
  auto form = api.fake.callback_form({{"monitorUCID", ucid},
                                      {"CallerID", "+919800000002"},
                                      {"Did", api.fake.opts().did},
                                      {"AgentID", api.fake.opts().agent_id},
                                      {"Duration", "00:02:00"},
                                      {"CallDuration", "00:01:30"},
                                      {"Status", "Answered"},
                                      {"Type", "InBound"}});
  auto c = api.client();
  auto cb = c.Post("/api/ozonetel/callback",
                   {{"Authorization", "Bearer " + write_token}}, form,
                   "application/x-www-form-urlencoded");
  REQUIRE(cb);
  CHECK(cb->status == 200);
  // The second record merges into the first row: CloudAgent's duration
  // fills what the first record did not know.
  auto d = api.db();
  caf::expected<caf::optional<comms_entry>> row{caf::none};
  for (int i = 0; i < 250; ++i) {
    row = d->find_comms("ozonetel", ucid);
    if (row && *row && (*row)->duration_seconds == 120)
      break;
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(row);
  REQUIRE(*row);
  CHECK((*row)->duration_seconds == 120);
  CHECK((*row)->talk_seconds == 90);
  CHECK((*row)->direction == "inbound");
  CHECK((*row)->external_number == "+919800000002");
  CHECK((*row)->body.find("Information Given") != std::string::npos);
  auto count = d->count_comms();
  REQUIRE(count);
  CHECK(*count == 1);
}

TEST_CASE("http: callback auth, media type and payload checks") {
  ozonetel_api api;
  auto c = api.client();
  auto form = api.fake.callback_form({{"monitorUCID", "9300000000000600"},
                                      {"CallerID", "+919800000003"},
                                      {"Status", "NotAnswered"},
                                      {"Type", "InBound"}});
  auto none = c.Post("/api/ozonetel/callback", form,
                     "application/x-www-form-urlencoded");
  CHECK(none->status == 401);
  auto wrong = c.Post("/api/ozonetel/callback?token=guess", form,
                      "application/x-www-form-urlencoded");
  CHECK(wrong->status == 401);
  auto json = c.Post("/api/ozonetel/callback?token=cb-token-77aa",
                     R"({"data":"{}"})", "application/json");
  CHECK(json->status == 415);
  auto no_data = c.Post("/api/ozonetel/callback?token=cb-token-77aa", "other=1",
                        "application/x-www-form-urlencoded");
  CHECK(no_data->status == 422);
  CHECK(error_of(no_data) == "invalid_field");
  auto no_ucid = c.Post("/api/ozonetel/callback?token=cb-token-77aa",
                        api.fake.callback_form({{"CallerID", "1"}}),
                        "application/x-www-form-urlencoded");
  CHECK(no_ucid->status == 422);
  CHECK(api.db()->count_comms().value() == 0);

  // Multipart works as well (some CloudAgent setups post it that way).
  httplib::MultipartFormDataItems items{
      {"data",
       R"({"monitorUCID":"9300000000000601","CallerID":"+919800000004","Status":"NotAnswered","Type":"InBound","Apikey":")"
           + api.fake.opts().api_key + "\"}",
       "", ""}};
  auto multipart = c.Post("/api/ozonetel/callback?token=cb-token-77aa", items);
  REQUIRE(multipart);
  CHECK(multipart->status == 200);
  auto ok = c.Post("/api/ozonetel/callback?token=cb-token-77aa", form,
                   "application/x-www-form-urlencoded");
  CHECK(ok->status == 200);
  CHECK(text(json_of(ok), "state") == "missed");
  REQUIRE(api.rows(2));
  auto row = api.db()->find_comms("ozonetel", "9300000000000600");
  REQUIRE(row);
  REQUIRE(*row);
  CHECK((*row)->disposition == "no_answer");
  CHECK((*row)->direction == "inbound");
}

TEST_CASE("http: bad requests change nothing") {
  ozonetel_api api;
  CHECK(api.post("/api/ozonetel/dial", R"({"customer_id":3})")->status == 422);
  CHECK(api.post("/api/ozonetel/dial", R"({"phone_number":"12"})")->status
        == 422);
  CHECK(api.post("/api/ozonetel/dial", R"({"phone_number":"+919845012345"})",
                 read_token)
            ->status
        == 403);
  CHECK(api.post("/api/ozonetel/dial", "not json")->status == 400);
  CHECK(api.fake.count("/ca_apis/AgentManualDial") == 0);
  auto ev = api.post("/api/ozonetel/calls/123/events", R"({"event":"boom"})");
  CHECK(ev->status == 422);
  auto no_ucid
      = api.post("/api/ozonetel/calls/-/events", R"({"event":"ringing"})");
  CHECK(no_ucid->status == 422);
  auto unknown = api.post("/api/ozonetel/dispose",
                          R"({"ucid":"nope","disposition":"INFO_PROVIDED"})");
  // No 404 that strands a seat: an unseen UCID is disposed all the same.
  CHECK(unknown->status == 200);
  CHECK(api.fake.count("/ca_apis/DispositionAPIV2") == 1);
  CHECK(api.post("/api/ozonetel/dispose", R"({"ucid":"x"})")->status == 422);
  CHECK(api.post("/api/ozonetel/agent-state", R"({"state":"Asleep"})")->status
        == 422);
  CHECK(api.fake.count("/ca_apis/DispositionAPIV2") == 1);
  CHECK(api.fake.count("/ca_apis/changeAgentState") == 0);
}

TEST_CASE(
    "http: agent state: CloudAgent's word, our view, never Ready in ACW") {
  ozonetel_api api;
  auto dial
      = api.post("/api/ozonetel/dial", R"({"phone_number":"+919845012345"})");
  auto ucid = text(json_of(dial), "ucid");
  auto events = "/api/ozonetel/calls/" + ucid + "/events";
  api.post(events, R"({"event":"answered"})");
  auto c = api.client();
  auto get = c.Get("/api/ozonetel/agent-state",
                   {{"Authorization", "Bearer " + read_token}});
  REQUIRE(get);
  INFO(get->body);
  CHECK(get->status == 200);
  auto view = json_of(get);
  CHECK(text(view, "agent_id") == api.fake.opts().agent_id);
  // CloudAgent's word comes from its agent events (none yet).
  CHECK(text(view, "cloudagent_state") == "unknown");
  CHECK_FALSE(view["ready"].GetBool());
  REQUIRE(view["current_call"].IsObject());
  CHECK(text(view["current_call"], "ucid") == ucid);
  CHECK(text(view["current_call"], "phone_number") == "+919845012345");
  CHECK(text(view["current_call"], "state") == "answered");

  api.fake.end_call(ucid);
  api.post(events, R"({"event":"ended"})");
  auto ready = api.post("/api/ozonetel/agent-state", R"({"state":"Ready"})");
  CHECK(ready->status == 409);
  CHECK(error_of(ready) == "conflict");
  CHECK(api.fake.count("/ca_apis/changeAgentState") == 0);
  api.post("/api/ozonetel/dispose",
           R"({"ucid":")" + ucid + R"(","disposition":"NO_ANSWER"})");
  auto pause = api.post("/api/ozonetel/agent-state",
                        R"({"state":"Pause","pause_reason":"Lunch"})");
  INFO(pause->body);
  CHECK(pause->status == 200);
  CHECK(text(json_of(pause), "state") == "PAUSED");
  auto sent = api.fake.requests("/ca_apis/changeAgentState").at(0);
  CHECK(sent.json("pauseReason") == "Lunch");
}

TEST_CASE("http: without an Ozonetel account every route answers 503") {
  ozonetel_api api{false};
  auto c = api.client();
  for (auto path :
       {"/api/ozonetel/dial", "/api/ozonetel/dispose",
        "/api/ozonetel/agent-state", "/api/ozonetel/calls/1/events"}) {
    auto body = std::string{path} == "/api/ozonetel/dial"
                    ? R"({"phone_number":"+919845012345"})"
                : std::string{path} == "/api/ozonetel/dispose"
                    ? R"({"ucid":"1","disposition":"NO_ANSWER"})"
                : std::string{path} == "/api/ozonetel/agent-state"
                    ? R"({"state":"Ready"})"
                    : R"({"event":"ringing"})";
    auto res = api.post(path, body);
    REQUIRE(res);
    INFO(path << " " << res->body);
    CHECK(res->status == 503);
    CHECK(res->body.find("ozonetel.account") != std::string::npos);
  }
  auto get = c.Get("/api/ozonetel/agent-state",
                   {{"Authorization", "Bearer " + read_token}});
  CHECK(get->status == 503);
  auto cb = c.Post("/api/ozonetel/callback",
                   {{"Authorization", "Bearer " + write_token}},
                   api.fake.callback_form({{"monitorUCID", "1"}}),
                   "application/x-www-form-urlencoded");
  CHECK(cb->status == 503);
  CHECK(api.fake.requests().empty());
}

TEST_CASE(
    "http: CloudAgent down: dial answers 502, dispose is kept and retried") {
  ozonetel_api api;
  api.fake.set_persistent_fault("/ca_apis/AgentManualDial", fault::http(503));
  auto dial
      = api.post("/api/ozonetel/dial", R"({"phone_number":"+919845012345"})");
  CHECK(dial->status == 502);
  CHECK(error_of(dial) == "upstream");
  api.fake.clear_faults();
  auto ucid = text(json_of(api.post("/api/ozonetel/dial",
                                    R"({"phone_number":"+919845012345"})")),
                   "ucid");
  REQUIRE_FALSE(ucid.empty());
  auto events = "/api/ozonetel/calls/" + ucid + "/events";
  api.post(events, R"({"event":"answered"})");
  api.fake.end_call(ucid);
  api.post(events, R"({"event":"ended"})");
  api.fake.set_persistent_fault("/ca_apis/DispositionAPIV2", fault::drop());
  auto disposed
      = api.post("/api/ozonetel/dispose",
                 R"({"ucid":")" + ucid + R"(","disposition":"INFO_PROVIDED"})");
  INFO(disposed->body);
  CHECK(disposed->status == 200);
  CHECK(text(json_of(disposed), "code") == "accepted");
  api.fake.clear_faults();
  // ucid_calls retries on its own (2 s first backoff by default).
  REQUIRE(api.rows(1));
  CHECK(api.fake.disposed(ucid));
}

TEST_CASE("http: the callback's local times in a zone with daylight saving "
          "time, on both sides of 2026's changes") {
  ozonetel_api api{true, 30, "America/New_York"};
  auto c = api.client();
  struct sample {
    std::string ucid, start, end, occurred;
    int64_t seconds;
  };
  // Times CloudAgent writes in New York: before and after the spring change
  // (02:00 EST -> 03:00 EDT), across it, and in the hour the autumn change
  // repeats (its first pass).
  std::vector<sample> samples{
      {"9400000000000001", "2026-03-07 10:00:00", "2026-03-07 10:01:00",
       "2026-03-07T15:00:00Z", 60},
      {"9400000000000002", "2026-03-08 01:50:00", "2026-03-08 03:10:00",
       "2026-03-08T06:50:00Z", 20 * 60},
      {"9400000000000003", "2026-03-09 10:00:00", "2026-03-09 10:01:00",
       "2026-03-09T14:00:00Z", 60},
      {"9400000000000004", "2026-11-01 00:50:00", "2026-11-01 01:10:00",
       "2026-11-01T04:50:00Z", 20 * 60},
      {"9400000000000005", "2026-11-01 02:10:00", "2026-11-01 02:11:00",
       "2026-11-01T07:10:00Z", 60}};
  for (auto& x : samples) {
    auto form = api.fake.callback_form({{"monitorUCID", x.ucid},
                                        {"CallerID", "+12125550100"},
                                        {"AgentID", "someone_else"},
                                        {"StartTime", x.start},
                                        {"EndTime", x.end},
                                        {"Status", "Answered"},
                                        {"Type", "InBound"}});
    auto cb = c.Post("/api/ozonetel/callback?token=cb-token-77aa", form,
                     "application/x-www-form-urlencoded");
    REQUIRE(cb);
    INFO(cb->body);
    CHECK(cb->status == 200);
  }
  REQUIRE(api.rows(static_cast<int64_t>(samples.size())));
  for (auto& x : samples) {
    INFO(x.ucid << " " << x.start);
    auto row = api.db()->find_comms("ozonetel", x.ucid);
    REQUIRE(row);
    REQUIRE(*row);
    CHECK((*row)->occurred_at == x.occurred);
    CHECK((*row)->duration_seconds == x.seconds);
  }
}
