// The call_tracker actor over a real CAF actor system: batches in, completed
// calls out to a (test) customer matcher, active calls on request, its own
// timers for the Cdr wait and for stale calls. No sleeps: every wait is a
// receive with a timeout.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/call_tracker.hpp"
#include "messages/customer_matcher_actor.hpp"
#include "tests/fixtures/actor_system.hpp"
#include "tests/fixtures/capture.hpp"

using namespace sb;
using namespace std::chrono_literals;

namespace {

struct actor_fixture {
  sb::test::test_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  actor_fixture() {
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

/// A stand-in customer matcher: forwards every batch of completed calls to
/// `sink`.
customer_matcher_actor spawn_test_matcher(caf::actor_system& sys,
                                          caf::actor sink) {
  return sys.spawn([sink](customer_matcher_actor::pointer)
                       -> customer_matcher_actor::behavior_type {
    return {
        [sink](std::vector<completed_call>& calls) {
          // A typed actor may not send() to a dynamically typed one.
          caf::anon_send(sink, std::move(calls));
        },
        [](customer_atom, customer&) {},
        [](reload_atom) {},
        [](flush_atom, int64_t) { return drain_report{}; },
    };
  });
}

/// The capture's events as they would arrive now.
std::vector<ami_event> arriving_now(std::vector<ami_event> events) {
  auto now = caf::make_timestamp();
  for (auto& e : events)
    e.received = now;
  return events;
}

ami_event_batch batch_of(std::vector<ami_event> events, size_t from,
                         size_t to) {
  ami_event_batch batch;
  batch.pbx = "default";
  batch.events.assign(std::make_move_iterator(events.begin() + from),
                      std::make_move_iterator(events.begin() + to));
  return batch;
}

size_t index_of(const std::vector<ami_event>& events, std::string_view name) {
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].name() == name)
      return i;
  FAIL("no " << name);
  return 0;
}

std::vector<live_call> active(caf::scoped_actor& self,
                              const call_tracker_actor& tracker) {
  std::vector<live_call> result;
  bool answered = false;
  self->request(tracker, 5s, active_atom_v)
      .receive(
          [&](std::vector<live_call>& calls) {
            result = std::move(calls);
            answered = true;
          },
          [&](caf::error& err) {
            FAIL("active request failed: " << to_string(err));
          });
  REQUIRE(answered);
  return result;
}

std::vector<completed_call> next_completed(caf::scoped_actor& self) {
  std::vector<completed_call> result;
  bool got = false;
  self->receive(
      [&](std::vector<completed_call>& calls) {
        result = std::move(calls);
        got = true;
      },
      caf::after(10s) >> [] {});
  REQUIRE(got);
  return result;
}

} // namespace

TEST_CASE_METHOD(actor_fixture,
                 "call_tracker actor: batches in, completed "
                 "calls to the matcher, active calls on request",
                 "[tracker][actor]") {
  caf::scoped_actor self{*sys};
  auto matcher = spawn_test_matcher(*sys, caf::actor_cast<caf::actor>(self));
  auto tracker = sys->spawn(call_tracker, std::vector<pbx_config>{},
                            tracker_config{}, matcher);

  auto events = arriving_now(
      test::load_capture("dev-06-inbound-ringgroup-second-answers"));
  auto talking = index_of(events, "BridgeEnter") + 1;
  self->send(tracker, batch_of(events, 0, talking));
  auto live = active(self, tracker);
  REQUIRE(live.size() == 1);
  CHECK(live[0].id == "1795299069.10");
  CHECK(live[0].state == "answered");
  CHECK(live[0].extension == "1002");
  CHECK(live[0].direction == "inbound");

  // The rest, split in two batches at the last Hangup: the trailing Cdr
  // arrives in a later batch and the tracker's own timer finalizes the call.
  size_t last_hangup = 0;
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].name() == "Hangup")
      last_hangup = i;
  self->send(tracker, batch_of(events, talking, last_hangup + 1));
  self->send(tracker, batch_of(events, last_hangup + 1, events.size()));
  auto calls = next_completed(self);
  REQUIRE(calls.size() == 1);
  auto& call = calls[0];
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
  CHECK(active(self, tracker).empty());

  // The burst: 50 calls, each exactly once.
  auto burst = arriving_now(test::load_capture("dev-11-burst-50"));
  const size_t per_batch = 64;
  for (size_t i = 0; i < burst.size(); i += per_batch)
    self->send(tracker,
               batch_of(burst, i, std::min(burst.size(), i + per_batch)));
  std::set<std::string> ids;
  size_t total = 0;
  while (total < 50) {
    for (auto& c : next_completed(self)) {
      CHECK(ids.insert(c.ext_message_id).second);
      ++total;
    }
  }
  CHECK(total == 50);
  CHECK(active(self, tracker).empty());
  self->send_exit(tracker, caf::exit_reason::user_shutdown);
  self->send_exit(matcher, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture,
                 "call_tracker actor: connection lost, calls "
                 "finalized incomplete by its timer",
                 "[tracker][actor]") {
  caf::scoped_actor self{*sys};
  auto matcher = spawn_test_matcher(*sys, caf::actor_cast<caf::actor>(self));
  tracker_config config;
  config.stale_call_seconds = 0.2;
  auto tracker
      = sys->spawn(call_tracker, std::vector<pbx_config>{}, config, matcher);
  auto events = arriving_now(
      test::load_capture("dev-01-inbound-answered-caller-hangup"));
  self->send(tracker, batch_of(events, 0, index_of(events, "BridgeEnter")));
  REQUIRE(active(self, tracker).size() == 1);
  self->send(tracker, connection_lost_atom_v, std::string{"default"});
  auto calls = next_completed(self);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].incomplete);
  CHECK(calls[0].ext_message_id == "1795298998.0");
  CHECK(calls[0].disposition == call_disposition::answered);
  CHECK(active(self, tracker).empty());
  self->send_exit(tracker, caf::exit_reason::user_shutdown);
  self->send_exit(matcher, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "call_tracker actor works without a matcher",
                 "[tracker][actor]") {
  caf::scoped_actor self{*sys};
  auto tracker = sys->spawn(call_tracker, std::vector<pbx_config>{},
                            tracker_config{}, customer_matcher_actor{});
  auto events = arriving_now(test::load_capture("dev-09-internal"));
  self->send(tracker, batch_of(events, 0, events.size()));
  self->send(tracker, sweep_atom_v);
  // The request is answered after the batch and the sweep (mailbox order):
  // at most the call waiting for its Cdr grace is still listed.
  auto live = active(self, tracker);
  CHECK(live.size() <= 1);
  for (auto& call : live)
    CHECK(call.state == "ending");
  self->send_exit(tracker, caf::exit_reason::user_shutdown);
}
