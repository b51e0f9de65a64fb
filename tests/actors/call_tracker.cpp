// The call_tracker actor on CAF's test_coordinator: batches in, completed
// calls out to a (test) customer matcher, active calls on request, its own
// timers for the Cdr wait, for stale calls and for the re-sync. Every step is
// one message or one move of the clock: nothing sleeps, nothing races.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/call_tracker.hpp"
#include "adapters/ami/codec.hpp"
#include "adapters/ami/live_channels.hpp"
#include "messages/customer_matcher_actor.hpp"
#include "tests/fixtures/capture.hpp"
#include "tests/fixtures/deterministic_actor_system.hpp"

using namespace sb;
using namespace std::chrono_literals;

namespace {

/// A tracker, a stand-in matcher that keeps what it receives, and the
/// deterministic clock both run on.
struct tracker_env {
  test::deterministic_actor_system env;
  std::vector<completed_call> completed;
  /// How many messages the matcher received (one per batch that completed
  /// calls).
  size_t batches_completed = 0;
  customer_matcher_actor matcher;
  call_tracker_actor tracker;

  explicit tracker_env(tracker_config config = {}, bool with_matcher = true) {
    if (with_matcher)
      matcher = env.sys.spawn([this](customer_matcher_actor::pointer)
                                  -> customer_matcher_actor::behavior_type {
        return {
            [this](std::vector<completed_call>& calls) {
              ++batches_completed;
              for (auto& c : calls)
                completed.push_back(std::move(c));
            },
            [](customer_atom, customer&) {},
            [](reload_atom) {},
            [](flush_atom, int64_t) { return drain_report{}; },
            [](rewire_atom, caf::actor&) {},
            [](std::vector<live_notice>&) {},
            [](match_atom, std::vector<live_call>& xs) { return xs; },
            [](originate_atom, const originate_request&) { return true; },
            [](events_atom, caf::actor&) {},
        };
      });
    tracker = env.sys.spawn(call_tracker_with_clock, std::vector<pbx_config>{},
                            config, matcher, env.clock());
    env.run();
  }

  ~tracker_env() {
    caf::anon_send_exit(tracker, caf::exit_reason::user_shutdown);
    if (matcher)
      caf::anon_send_exit(matcher, caf::exit_reason::user_shutdown);
    env.run();
  }

  tracker_env(const tracker_env&) = delete;
  tracker_env& operator=(const tracker_env&) = delete;

  caf::timestamp now() {
    return caf::timestamp{std::chrono::microseconds{env.clock()()}};
  }

  /// Delivers events [from, to) as one batch arriving now, and runs it.
  void deliver(std::vector<ami_event> events, size_t from, size_t to) {
    ami_event_batch batch;
    batch.pbx = "default";
    for (size_t i = from; i < to; ++i) {
      events[i].received = now();
      batch.events.push_back(std::move(events[i]));
    }
    caf::anon_send(tracker, std::move(batch));
    env.run();
  }

  std::vector<live_call> active() {
    std::vector<live_call> result;
    bool answered = false;
    auto handle = tracker;
    env.sys.spawn([&, handle](caf::event_based_actor* self) {
      self->request(handle, caf::infinite, active_atom_v)
          .then([&](std::vector<live_call>& calls) {
            result = std::move(calls);
            answered = true;
          });
    });
    env.run();
    REQUIRE(answered);
    return result;
  }
};

size_t index_of(const std::vector<ami_event>& events, std::string_view name) {
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].name() == name)
      return i;
  FAIL("no " << name);
  return 0;
}

size_t last_index_of(const std::vector<ami_event>& events,
                     std::string_view name) {
  size_t result = events.size();
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].name() == name)
      result = i;
  REQUIRE(result < events.size());
  return result;
}

} // namespace

TEST_CASE("call_tracker actor: batches in, completed calls to the matcher, "
          "active calls on request",
          "[tracker][actor]") {
  tracker_env t;
  auto events = test::load_capture("dev-06-inbound-ringgroup-second-answers");
  auto talking = index_of(events, "BridgeEnter") + 1;
  t.deliver(events, 0, talking);
  auto live = t.active();
  REQUIRE(live.size() == 1);
  CHECK(live[0].id == "1795299069.10");
  CHECK(live[0].state == live_call_state::answered);
  CHECK(live[0].extension == "1002");
  CHECK(live[0].direction == call_direction::inbound);

  // The rest, split in two batches at the last Hangup: the trailing Cdr
  // arrives in a later batch, and the call waits for the Cdr grace.
  auto last_hangup = last_index_of(events, "Hangup");
  t.deliver(events, talking, last_hangup + 1);
  t.deliver(events, last_hangup + 1, events.size());
  CHECK(t.completed.empty());
  REQUIRE(t.active().size() == 1);
  CHECK(t.active()[0].state == live_call_state::ending);
  // The tracker's own timer finalizes it once the grace has passed.
  t.env.advance(19ms);
  CHECK(t.completed.empty());
  t.env.advance(1ms);
  REQUIRE(t.completed.size() == 1);
  auto& call = t.completed[0];
  CHECK(call.ext_message_id == "1795299069.10");
  CHECK(call.origin == "default");
  CHECK(call.direction == call_direction::inbound);
  CHECK(call.external_number == "+442079460321");
  CHECK(call.extension == "1002");
  CHECK(call.disposition == call_disposition::answered);
  CHECK(call.duration_seconds == 12);
  CHECK(call.billsec == 8);
  CHECK(call.talk_seconds == 8);
  CHECK_FALSE(call.incomplete);
  CHECK(t.active().empty());

  // The burst: 50 calls in batches of 64 events, each call exactly once.
  t.completed.clear();
  auto burst = test::load_capture("dev-11-burst-50");
  const size_t per_batch = 64;
  for (size_t i = 0; i < burst.size(); i += per_batch)
    t.deliver(burst, i, std::min(burst.size(), i + per_batch));
  t.env.advance(20ms);
  std::set<std::string> ids;
  for (auto& c : t.completed)
    CHECK(ids.insert(c.ext_message_id).second);
  CHECK(t.completed.size() == 50);
  CHECK(t.active().empty());
}

TEST_CASE("call_tracker actor: connection lost and no re-sync, calls "
          "finalized incomplete by its timer",
          "[tracker][actor]") {
  tracker_config config;
  config.stale_call_seconds = 0.2;
  tracker_env t{config};
  auto events = test::load_capture("dev-01-inbound-answered-caller-hangup");
  t.deliver(events, 0, index_of(events, "BridgeEnter"));
  REQUIRE(t.active().size() == 1);
  caf::anon_send(t.tracker, connection_lost_atom_v, std::string{"default"});
  t.env.run();
  t.env.advance(199ms);
  CHECK(t.completed.empty());
  t.env.advance(1ms);
  REQUIRE(t.completed.size() == 1);
  CHECK(t.completed[0].incomplete);
  CHECK(t.completed[0].ext_message_id == "1795298998.0");
  CHECK(t.completed[0].disposition == call_disposition::answered);
  CHECK(t.active().empty());
}

TEST_CASE("call_tracker actor: the re-sync after a reconnect keeps a live "
          "call, which then ends as an ordinary call",
          "[tracker][actor][resync]") {
  tracker_config config;
  config.stale_call_seconds = 0.2;
  tracker_env t{config};
  auto events = test::load_capture("dev-01-inbound-answered-caller-hangup");
  auto cut = index_of(events, "DialBegin") + 1;
  auto resume = index_of(events, "HangupRequest");
  t.deliver(events, 0, cut);
  caf::anon_send(t.tracker, connection_lost_atom_v, std::string{"default"});
  t.env.run();
  // The reconnect: what the PBX lists after the answer and both
  // BridgeEnters, which it never resends.
  ami::live_channels table;
  for (size_t i = 0; i < resume; ++i)
    table.apply(events[i].text);
  std::vector<ami_event> answer;
  ami::frame_splitter splitter{1 << 20};
  splitter.expect_banner(false);
  splitter.feed(
      table.core_show_channels("1"), [](std::string_view) {},
      [&](std::string_view frame) {
        ami_event e;
        if (ami::parse_frame(frame, e) && !e.name().empty())
          answer.push_back(std::move(e));
      });
  REQUIRE(answer.size() == 3);
  t.deliver(answer, 0, answer.size());
  // Long past the stale time: the re-sync kept it alive.
  t.env.advance(1s);
  CHECK(t.completed.empty());
  REQUIRE(t.active().size() == 1);
  t.deliver(events, resume, events.size());
  t.env.advance(20ms);
  REQUIRE(t.completed.size() == 1);
  auto& call = t.completed[0];
  CHECK_FALSE(call.incomplete);
  CHECK(call.extension == "1001");
  CHECK(call.billsec == 7);
  CHECK(call.duration_seconds == 11);
}

TEST_CASE("call_tracker actor works without a matcher", "[tracker][actor]") {
  tracker_env t{tracker_config{}, false};
  auto events = test::load_capture("dev-09-internal");
  t.deliver(events, 0, events.size());
  // At most the call waiting for its Cdr grace is still listed.
  auto live = t.active();
  CHECK(live.size() <= 1);
  for (auto& call : live)
    CHECK(call.state == live_call_state::ending);
  t.env.advance(20ms);
  CHECK(t.active().empty());
}

TEST_CASE("call_tracker actor: a batch asking for credit is answered only "
          "once the writer has room, and every completed call is charged",
          "[tracker][actor][flow]") {
  test::deterministic_actor_system env;
  std::vector<completed_call> completed;
  auto matcher = env.sys.spawn([&](customer_matcher_actor::pointer)
                                   -> customer_matcher_actor::behavior_type {
    return {
        [&](std::vector<completed_call>& calls) {
          for (auto& c : calls)
            completed.push_back(std::move(c));
        },
        [](customer_atom, customer&) {},
        [](reload_atom) {},
        [](flush_atom, int64_t) { return drain_report{}; },
        [](rewire_atom, caf::actor&) {},
        [](std::vector<live_notice>&) {},
        [](match_atom, std::vector<live_call>& xs) { return xs; },
        [](originate_atom, const originate_request&) { return true; },
        [](events_atom, caf::actor&) {},
    };
  });
  auto gate = std::make_shared<flow_gate>(10);
  gate->acquire(10); // the writer holds all it may
  auto tracker = env.sys.spawn(call_tracker_bounded, std::vector<pbx_config>{},
                               tracker_config{}, matcher, gate);
  env.run();
  int answered = 0;
  env.sys.spawn([&](caf::event_based_actor* self) {
    for (int i = 0; i < 2; ++i)
      self->request(tracker, caf::infinite, ami_event_batch{}, credit_atom_v)
          .then([&](bool) { ++answered; });
  });
  env.run();
  // Applied, but not answered: the parser keeps its bytes charged.
  CHECK(answered == 0);
  gate->release(1); // the writer committed one record: room again
  env.run();
  CHECK(answered == 2);
  // A batch that completes a call charges it.
  auto events = test::load_capture("dev-09-internal");
  ami_event_batch batch;
  batch.pbx = "main";
  for (auto& ev : events) {
    ev.received = caf::make_timestamp();
    batch.events.push_back(ev);
  }
  auto queued = gate->queued();
  caf::anon_send(tracker, std::move(batch));
  env.run();
  // A stop's flush finalizes it past the wait for trailing Cdr events.
  env.sys.spawn([&](caf::event_based_actor* self) {
    self->request(tracker, caf::infinite, flush_atom_v).then([](int64_t) {});
  });
  env.run();
  REQUIRE(completed.size() == 1);
  CHECK(gate->queued() == queued + 1);
  caf::anon_send_exit(tracker, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(matcher, caf::exit_reason::user_shutdown);
  env.run();
}
