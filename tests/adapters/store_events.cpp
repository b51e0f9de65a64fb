// The event log's table: appends in order, reads after an id, pruning by
// age that never lets an id come back, and the appender's bounded queue.

#include "adapters/json/row_json.hpp"
#include "adapters/store/event_appender.hpp"
#include "tests/fixtures/store_support.hpp"

using namespace sb;
using namespace sb::test;

namespace {

stored_event event_at(const std::string& type, const std::string& at) {
  stored_event e;
  e.type = type;
  e.at = at;
  e.origin = "pbx1";
  e.call_id = "1.0";
  e.extension = "1001";
  e.customer_id = 7;
  e.payload_json = R"({"call_id":"1.0"})";
  return e;
}

} // namespace

TEST_CASE("events are appended in order, read after an id and pruned by age "
          "without their ids coming back") {
  for_each_backend("events table", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    std::vector<stored_event> old{event_at("call.ringing",
                                           "2026-11-01T10:00:00.000Z"),
                                  event_at("call.ended",
                                           "2026-11-01T10:00:05.000Z")};
    auto last = db->append_events(old);
    REQUIRE(last);
    auto rows = db->events_after(0, 10);
    REQUIRE(rows);
    REQUIRE(rows->size() == 2);
    CHECK((*rows)[0].type == "call.ringing");
    CHECK((*rows)[1].id == *last);
    CHECK((*rows)[0].id < (*rows)[1].id);
    CHECK((*rows)[0].customer_id == caf::optional<int64_t>{7});
    CHECK((*rows)[0].payload_json == R"({"call_id":"1.0"})");
    CHECK((*rows)[0].at == "2026-11-01T10:00:00.000Z");
    auto after_first = db->events_after((*rows)[0].id, 10);
    REQUIRE(after_first);
    REQUIRE(after_first->size() == 1);
    CHECK(after_first->front().type == "call.ended");

    auto pruned = db->prune_events("2026-11-02T00:00:00.000Z");
    REQUIRE(pruned);
    CHECK(*pruned == 2);
    auto none = db->events_after(0, 10);
    REQUIRE(none);
    CHECK(none->empty());
    // An emptied table does not hand out the old ids again: a subscriber
    // resuming from one of them must not take a new event for an old one.
    auto next = db->append_events({event_at("call.logged",
                                            "2026-12-01T10:00:00.000Z")});
    REQUIRE(next);
    CHECK(*next > *last);
    auto kept = db->prune_events("2026-11-02T00:00:00.000Z");
    REQUIRE(kept);
    CHECK(*kept == 0);
    auto newest = db->last_event_id();
    REQUIRE(newest);
    CHECK(*newest == *next);
  });
}

TEST_CASE("the appender writes what it is offered and counts what it cannot "
          "queue") {
  scratch_dir dir;
  auto url = "sqlite:" + dir.file("events.db");
  { auto db = open_or_fail(url); }
  events_config cfg;
  cfg.queue_max = 5;
  auto signal = std::make_shared<event_signal>();
  auto dropped_before
      = metrics::global()
            .get_counter("switchboard_events_dropped_total", "",
                         {{"reason", "queue_full"}})
            .value();
  size_t accepted = 0;
  {
    store::event_appender appender{url, cfg, signal};
    event_record e;
    e.type = "manual.logged";
    e.origin = "manual";
    e.payload_json = "{}";
    // Faster than any thread writes: some of these meet a full queue.
    for (int i = 0; i < 1000; ++i)
      accepted += appender.offer(e) ? 1 : 0;
    CHECK(appender.flush(std::chrono::seconds{10}) == 0);
  }
  auto dropped
      = metrics::global()
            .get_counter("switchboard_events_dropped_total", "",
                         {{"reason", "queue_full"}})
            .value()
        - dropped_before;
  CHECK(static_cast<double>(accepted) + dropped == 1000);
  CHECK(dropped > 0);
  auto db = open_or_fail(url);
  auto rows = db->events_after(0, 2000);
  REQUIRE(rows);
  CHECK(rows->size() == accepted);
  CHECK(rows->front().at.size() == 24);
}
