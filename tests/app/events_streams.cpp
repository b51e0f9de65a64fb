// GET /api/events under pressure and across instances: a subscriber that
// stops reading is dropped without holding up the others; a subscriber on
// one instance sees the calls another instance on the same PostgreSQL
// takes; keep-alive comments on an idle stream.

#include "adapters/store/database.hpp"
#include "tests/fixtures/e2e_support.hpp"
#include "tests/fixtures/events_support.hpp"
#include "tests/fixtures/temp_dir.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

/// `n` events of about `bytes` each, straight into the table (what many
/// calls would append), in batches.
void append_many(store::database& db, size_t n, size_t bytes) {
  std::vector<stored_event> batch;
  std::string padding(bytes, 'x');
  for (size_t i = 0; i < n; ++i) {
    stored_event e;
    e.type = "manual.logged";
    e.at = "2026-12-01T16:00:00.000Z";
    e.origin = "manual";
    e.payload_json = "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + padding
                     + "\"}";
    batch.push_back(std::move(e));
    if (batch.size() == 500 || i + 1 == n) {
      REQUIRE(db.append_events(batch));
      batch.clear();
    }
  }
}

} // namespace

TEST_CASE("a subscriber that stops reading is dropped with stream.overflow; "
          "the others get every event") {
  e2e::quiet_logs();
  scratch_dir dir{"sb-events"};
  auto url = "sqlite:" + dir.file("crm.db");
  auto db = e2e::open_db(url);
  event_instance sb1{url, dir.file("spool"), nullptr, [](app_config& cfg) {
                       cfg.events.subscriber_buffer_bytes = 64 * 1024;
                       cfg.events.stall_seconds = 0.5;
                     }};
  auto overflows_before
      = counter_value("switchboard_events_stream_overflows_total");
  // Both subscribe from now; the stalled one never reads and has a tiny
  // socket buffer, so the server's buffer for it fills.
  sse_client stalled{sb1.port(), "/api/events", events_token, {}, 4096};
  sse_client reader{sb1.port(), "/api/events", events_token};
  REQUIRE(wait_until(
      [&] {
        return metrics::global()
                   .get_gauge("switchboard_events_subscribers", "")
                   .value()
               >= 2;
      },
      10s));
  const size_t n = 4000;
  append_many(*db, n, 2000); // 8 MB: far more than any socket buffers
  REQUIRE(reader.read_events(n, 60s));
  CHECK(reader.events().size() == n);
  CHECK(reader.events().back().data.find("\"n\":" + std::to_string(n - 1))
        != std::string::npos);
  CHECK_FALSE(reader.ended());
  // The stalled one was cut off: what reached it ends with the overflow
  // notice and the end of the stream.
  REQUIRE(stalled.read_until([&] { return stalled.ended(); }, 30s));
  REQUIRE_FALSE(stalled.events().empty());
  CHECK(stalled.events().back().event == "stream.overflow");
  CHECK(stalled.events().size() < n);
  CHECK(counter_value("switchboard_events_stream_overflows_total")
            - overflows_before
        == 1);
  // It resumes from its last id and gets the rest.
  auto last = stalled.events()[stalled.events().size() - 2].id;
  sse_client again{sb1.port(), "/api/events", events_token, last};
  auto missing = n - (stalled.events().size() - 1);
  REQUIRE(again.read_events(missing, 60s));
  CHECK(again.events().back().id == reader.events().back().id);
}

TEST_CASE("an idle stream gets keep-alive comments") {
  e2e::quiet_logs();
  scratch_dir dir{"sb-events"};
  event_instance sb1{"sqlite:" + dir.file("crm.db"), dir.file("spool"),
                     nullptr, [](app_config& cfg) {
                       cfg.events.heartbeat_seconds = 0.05;
                     }};
  sse_client idle{sb1.port(), "/api/events", events_token};
  REQUIRE(idle.read_until([&] { return idle.comments() >= 2; }, 10s));
  CHECK(idle.events().empty());
}

TEST_CASE("two instances on one PostgreSQL: a subscriber on one sees the "
          "calls the other takes") {
  if (!e2e::postgres_available_or_warn("events across instances"))
    return;
  e2e::quiet_logs();
  auto b = e2e::postgres_backend();
  { auto db = e2e::open_db(b.url); }
  ami::replay_options opts;
  opts.capture_path = ami_capture("dev-01-inbound-answered-caller-hangup");
  // No fallback poll to speak of: NOTIFY wakes the stream.
  auto slow_poll = [](app_config& cfg) { cfg.events.poll_seconds = 30; };
  event_instance quiet{b.url, b.dir_file("spool-a"), nullptr, slow_poll};
  sse_client sub{quiet.port(), "/api/events", events_token};
  REQUIRE(wait_until(
      [&] {
        return metrics::global()
                   .get_gauge("switchboard_events_subscribers", "")
                   .value()
               >= 1;
      },
      10s));
  auto pbx = start_replay(opts);
  event_instance busy{b.url, b.dir_file("spool-b"), pbx.get(), slow_poll};
  REQUIRE(sub.read_type("call.logged", 20s));
  std::vector<std::string> types;
  for (auto& e : sub.events())
    types.push_back(e.event);
  CHECK(types
        == std::vector<std::string>{"call.ringing", "call.answered",
                                    "call.ended", "call.logged"});
  auto ringing = parse_json(sub.events()[0].data);
  CHECK(std::string{ringing["data"]["call_id"].GetString()} == "1795298998.0");
}
