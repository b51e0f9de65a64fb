// The event log and GET /api/events over real HTTP: a recorded call replayed
// over AMI, the stream read as an EventSource reads it.

#include <httplib.h>

#include "adapters/store/database.hpp"
#include "tests/fixtures/e2e_support.hpp"
#include "tests/fixtures/events_support.hpp"
#include "tests/fixtures/temp_dir.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* linkedid = "1795298998.0";

int64_t seed_ada(const std::string& url) {
  auto db = e2e::open_db(url);
  customer c;
  c.name = "Ada Lovelace";
  c.phone = "+44 20 7946 0123";
  c.phone_e164 = "+442079460123";
  auto added = db->add_customer(c);
  REQUIRE(added);
  return added->id;
}

std::vector<std::string> types_of(const sse_client& s) {
  std::vector<std::string> out;
  for (auto& e : s.events())
    out.push_back(e.event);
  return out;
}

} // namespace

TEST_CASE("a call rings: call.ringing names the customer before any Hangup "
          "is sent, and GET /api/calls/active shows them too") {
  e2e::quiet_logs();
  scratch_dir dir{"sb-events"};
  auto url = "sqlite:" + dir.file("crm.db");
  { auto db = e2e::open_db(url); }
  auto ada = seed_ada(url);
  ami::replay_options opts;
  opts.capture_path = dir.write(
      "ringing.ami",
      capture_before_hangup("dev-01-inbound-answered-caller-hangup"));
  auto pbx = start_replay(opts);
  event_instance sb1{url, dir.file("spool"), pbx.get()};

  sse_client sub{sb1.port(), "/api/events?since=0", events_token};
  REQUIRE(sub.read_type("call.ringing", 20s));
  CHECK(sub.status() == 200);
  CHECK(sub.head().find("text/event-stream") != std::string::npos);
  // The PBX has sent all it has, and it has no Hangup: the customer came
  // while the phone rang, not from the entry at the end.
  CHECK(pbx->events_sent() == pbx->capture_events());
  auto* ringing = sub.find("call.ringing");
  auto doc = parse_json(ringing->data);
  CHECK(std::to_string(doc["id"].GetInt64()) == ringing->id);
  CHECK(std::string{doc["type"].GetString()} == "call.ringing");
  CHECK(std::string{doc["origin"].GetString()} == "pbx1");
  CHECK(std::string{doc["at"].GetString()}.size() == 24); // ms and Z
  auto& data = doc["data"];
  CHECK(std::string{data["call_id"].GetString()} == linkedid);
  CHECK(std::string{data["direction"].GetString()} == "inbound");
  CHECK(std::string{data["external_number"].GetString()} == "+442079460123");
  CHECK(std::string{data["did"].GetString()} == "442079460000");
  REQUIRE(data["extensions"].Size() == 1);
  CHECK(std::string{data["extensions"][0].GetString()} == "1001");
  REQUIRE(data["customer"].IsObject());
  CHECK(data["customer"]["id"].GetInt64() == ada);
  CHECK(std::string{data["customer"]["name"].GetString()} == "Ada Lovelace");
  CHECK(sub.find("call.ended") == nullptr);

  httplib::Client c{"127.0.0.1", sb1.port()};
  httplib::Headers auth{{"Authorization", "Bearer " + events_token}};
  auto active = c.Get("/api/calls/active", auth);
  REQUIRE(active);
  REQUIRE(active->status == 200);
  auto calls = parse_json(active->body);
  REQUIRE(calls["calls"].Size() == 1);
  auto& call = calls["calls"][0];
  REQUIRE(call["customer"].IsObject());
  CHECK(call["customer"]["id"].GetInt64() == ada);
  CHECK(std::string{call["customer"]["name"].GetString()} == "Ada Lovelace");

  // The stream filters on what the events concern.
  sse_client other{sb1.port(), "/api/events?since=0&extension=1002",
                   events_token};
  sse_client mine{sb1.port(),
                  "/api/events?since=0&extension=1001&types=call.ringing",
                  events_token};
  REQUIRE(mine.read_events(1, 10s));
  CHECK(mine.events()[0].event == "call.ringing");
  sse_client customer{sb1.port(),
                      "/api/events?since=0&customer_id=" + std::to_string(ada),
                      events_token};
  REQUIRE(customer.read_type("call.ringing", 10s));
  // Nothing for 1002: the next thing on its stream is a keep-alive or
  // nothing; read what is there without waiting for more.
  other.read_until([] { return false; }, 300ms);
  CHECK(other.events().empty());
}

TEST_CASE("a whole call is ringing, answered, ended, logged; a reconnect "
          "with Last-Event-ID gets exactly the events it missed") {
  e2e::quiet_logs();
  scratch_dir dir{"sb-events"};
  auto url = "sqlite:" + dir.file("crm.db");
  { auto db = e2e::open_db(url); }
  auto ada = seed_ada(url);
  ami::replay_options opts;
  opts.capture_path = ami_capture("dev-01-inbound-answered-caller-hangup");
  auto pbx = start_replay(opts);
  event_instance sb1{url, dir.file("spool"), pbx.get()};

  sse_client all{sb1.port(), "/api/events?since=0", events_token};
  REQUIRE(all.read_type("call.logged", 20s));
  {
    // The stream is the table.
    auto db = e2e::open_db(url);
    auto rows = db->events_after(0, 100);
    REQUIRE(rows);
    REQUIRE(rows->size() == all.events().size());
    for (size_t i = 0; i < rows->size(); ++i)
      CHECK(std::to_string((*rows)[i].id) == all.events()[i].id);
  }
  CHECK(types_of(all)
        == std::vector<std::string>{"call.ringing", "call.answered",
                                    "call.ended", "call.logged"});
  auto logged = parse_json(all.find("call.logged")->data);
  auto& entry = logged["data"]["entry"];
  CHECK(std::string{entry["ext_message_id"].GetString()} == linkedid);
  CHECK(entry["customer_id"].GetInt64() == ada);
  CHECK(std::string{entry["extension"].GetString()} == "1001");
  auto answered = parse_json(all.find("call.answered")->data);
  CHECK(std::string{answered["data"]["extension"].GetString()} == "1001");
  auto ended = parse_json(all.find("call.ended")->data);
  CHECK(std::string{ended["data"]["disposition"].GetString()} == "answered");

  // The entry in the event is the entry of GET /api/crm/comms.
  httplib::Client c{"127.0.0.1", sb1.port()};
  httplib::Headers auth{{"Authorization", "Bearer " + events_token}};
  auto comms = c.Get("/api/crm/comms", auth);
  REQUIRE(comms);
  auto list = parse_json(comms->body);
  REQUIRE(list["entries"].Size() == 1);
  rapidjson::StringBuffer a;
  rapidjson::Writer<rapidjson::StringBuffer> wa{a};
  list["entries"][0].Accept(wa);
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> wb{b};
  entry.Accept(wb);
  CHECK(std::string{a.GetString()} == std::string{b.GetString()});

  // A client that saw the first event reconnects: it gets the rest, in
  // order, and nothing twice.
  const auto& seen = all.events();
  sse_client resumed{sb1.port(), "/api/events", events_token, seen[0].id};
  REQUIRE(resumed.read_events(seen.size() - 1, 10s));
  REQUIRE(resumed.events().size() == seen.size() - 1);
  for (size_t i = 1; i < seen.size(); ++i) {
    CHECK(resumed.events()[i - 1].id == seen[i].id);
    CHECK(resumed.events()[i - 1].data == seen[i].data);
  }
  // since= does the same; Last-Event-ID wins over it.
  sse_client both{sb1.port(), "/api/events?since=0", events_token, seen[2].id};
  REQUIRE(both.read_events(1, 10s));
  CHECK(both.events()[0].id == seen[3].id);
}

TEST_CASE("GET /api/events refuses bad filters and missing tokens") {
  e2e::quiet_logs();
  scratch_dir dir{"sb-events"};
  event_instance sb1{"sqlite:" + dir.file("crm.db"), dir.file("spool"),
                     nullptr};
  httplib::Client c{"127.0.0.1", sb1.port()};
  httplib::Headers auth{{"Authorization", "Bearer " + events_token}};
  auto bad = [&](const std::string& target) {
    auto res = c.Get(target, auth);
    REQUIRE(res);
    return res->status;
  };
  CHECK(bad("/api/events?customer_id=abc") == 400);
  CHECK(bad("/api/events?since=-1") == 400);
  CHECK(bad("/api/events?types=Call%20Ringing") == 400);
  auto wrong = c.Get("/api/events", {{"Authorization", "Bearer " + events_token},
                                     {"Last-Event-ID", "x"}});
  REQUIRE(wrong);
  CHECK(wrong->status == 400);
  auto json_only = c.Get("/api/events", {{"Authorization", "Bearer " + events_token},
                                         {"Accept", "application/json"}});
  REQUIRE(json_only);
  CHECK(json_only->status == 406);
  auto anonymous = c.Get("/api/events");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
}

TEST_CASE("customer changes join the event log: customer.created, and "
          "call.matched for the unmatched call that now has its customer") {
  e2e::quiet_logs();
  scratch_dir dir{"sb-events"};
  auto url = "sqlite:" + dir.file("crm.db");
  { auto db = e2e::open_db(url); }
  ami::replay_options opts;
  opts.capture_path = ami_capture("dev-01-inbound-answered-caller-hangup");
  auto pbx = start_replay(opts);
  event_instance sb1{url, dir.file("spool"), pbx.get()};

  sse_client all{sb1.port(), "/api/events?since=0", events_token};
  REQUIRE(all.read_type("call.logged", 20s));
  auto logged = parse_json(all.find("call.logged")->data);
  auto entry_id = logged["data"]["entry"]["id"].GetInt64();
  CHECK(logged["data"]["entry"]["customer_id"].IsNull());

  httplib::Client c{"127.0.0.1", sb1.port()};
  httplib::Headers auth{{"Authorization", "Bearer " + events_token}};
  auto res = c.Post("/api/crm/customers", auth,
                    R"({"name":"Ada Lovelace","phone":"+44 20 7946 0123"})",
                    "application/json");
  REQUIRE(res);
  REQUIRE(res->status == 201);
  auto ada = parse_json(res->body)["id"].GetInt64();

  REQUIRE(all.read_type("call.matched", 10s));
  auto* created = all.find("customer.created");
  REQUIRE(created != nullptr);
  auto c_doc = parse_json(created->data);
  CHECK(std::string{c_doc["origin"].GetString()} == "crm");
  CHECK(c_doc["data"]["customer"]["id"].GetInt64() == ada);
  auto matched = parse_json(all.find("call.matched")->data);
  CHECK(matched["data"]["entry_id"].GetInt64() == entry_id);
  CHECK(matched["data"]["customer"]["id"].GetInt64() == ada);
  CHECK(std::string{matched["data"]["customer"]["name"].GetString()}
        == "Ada Lovelace");
  // Created before matched, both after the call's own events.
  auto types = types_of(all);
  CHECK(types
        == std::vector<std::string>{"call.ringing", "call.answered",
                                    "call.ended", "call.logged",
                                    "customer.created", "call.matched"});
  // The customer filter finds both.
  sse_client mine{sb1.port(),
                  "/api/events?since=0&customer_id=" + std::to_string(ada),
                  events_token};
  REQUIRE(mine.read_type("call.matched", 10s));
  CHECK(mine.find("customer.created") != nullptr);
}
