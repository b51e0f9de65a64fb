#include "actors/call_tracker.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/timestamp.hpp>
#include <caf/weak_intrusive_ptr.hpp>

#include "core/log.hpp"
#include "messages/cdr_catchup_actor.hpp"

namespace sb {

namespace {

using tracker_pointer
    = call_tracker_actor::stateful_pointer<call_tracker_state>;

/// Counts what a PBX's live-call cap refused; warns at most every 10 s.
void report_refusals(call_tracker_state& st, const call_refusals& r) {
  metrics::global()
      .get_counter("switchboard_tracker_calls_refused_total",
                   "New AMI calls not followed because their PBX had "
                   "max_live_calls calls live.",
                   {{"pbx", r.pbx}})
      .inc(static_cast<double>(r.calls));
  if (st.capped_events != nullptr)
    st.capped_events->inc(static_cast<double>(r.events));
  auto now = std::chrono::steady_clock::now();
  auto [last, first] = st.cap_warned.try_emplace(r.pbx, now);
  if (!first && now - last->second < std::chrono::seconds{10})
    return;
  last->second = now;
  log::warning(call_tracker_state::name,
               "live-call cap reached: new calls of this PBX are not "
               "followed until calls end",
               {{"pbx", r.pbx},
                {"max_live_calls", std::to_string(r.cap)},
                {"calls_refused", std::to_string(r.calls)},
                {"events_dropped", std::to_string(r.events)}});
}

/// Moves the correlator's counters into the metrics registry.
void report(call_tracker_state& st) {
  auto& now = st.correlator->stats();
  auto& old = st.reported;
  auto add = [](metrics::counter* c, uint64_t from, uint64_t to) {
    if (c != nullptr && to > from)
      c->inc(static_cast<double>(to - from));
  };
  add(st.calls_complete, old.calls_completed, now.calls_completed);
  add(st.calls_incomplete, old.calls_incomplete, now.calls_incomplete);
  add(st.late_events, old.late_events, now.late_events);
  add(st.orphan_cdrs, old.orphan_cdrs, now.orphan_cdrs);
  old = now;
  for (auto& r : st.correlator->take_refusals())
    report_refusals(st, r);
  if (st.live_calls != nullptr)
    st.live_calls->set(static_cast<double>(st.correlator->live_count()));
  if (st.downstream && st.queued_calls != nullptr)
    st.queued_calls->set(static_cast<double>(st.downstream->queued()));
}

/// Sends what completed (one message per handled message) and books it.
void flush(tracker_pointer self, std::vector<completed_call>& out) {
  auto& st = self->state;
  if (!st.notices.empty()) {
    if (st.matcher)
      self->send(st.matcher, std::move(st.notices));
    st.notices.clear();
  }
  for (auto& call : out)
    if (call.incomplete)
      log::info(call_tracker_state::name, "call finalized incomplete",
                {{"pbx", call.origin}, {"linkedid", call.ext_message_id}});
  if (!out.empty() && st.matcher) {
    if (st.downstream)
      st.downstream->acquire(out.size());
    self->send(st.matcher, std::move(out));
  }
  out.clear();
  // After the calls the re-sync finalized: the catch-up may replace those
  // incomplete entries with what the CDR knows.
  for (auto& gap : st.correlator->take_gaps()) {
    auto i = st.cdr_catchup.find(gap.pbx);
    if (i != st.cdr_catchup.end() && i->second)
      self->send(caf::actor_cast<cdr_catchup_actor>(i->second), cdr_gap_atom_v,
                 std::move(gap));
  }
  report(st);
}

/// Makes sure a timer fires by the correlator's next deadline.
void arm(tracker_pointer self) {
  auto& st = self->state;
  auto due = st.correlator->next_deadline();
  if (due == call_correlator::never)
    return;
  if (st.timer_due != 0 && st.timer_due <= due)
    return; // the armed timer comes first; it re-arms after it ran
  auto delay = std::max<unix_micros>(0, due - st.clock());
  st.timer_due = due;
  self->delayed_send(self, std::chrono::microseconds{delay}, sweep_atom_v,
                     ++st.timer_generation);
}

void apply(tracker_pointer self, ami_event_batch& batch) {
  std::vector<completed_call> out;
  auto& correlator = *self->state.correlator;
  for (auto& event : batch.events) {
    if (event.pbx.empty())
      event.pbx = batch.pbx;
    correlator.on_event(event, out);
  }
  flush(self, out);
  arm(self);
}

/// Answers the batches held back while the writer has room; else waits for
/// the writer's release to say so (a credit_atom from its thread).
void answer_held_back(tracker_pointer self) {
  auto& st = self->state;
  if (st.held_back.empty())
    return;
  caf::weak_actor_ptr weak{self->ctrl()};
  bool open = st.downstream->wait([weak] {
    if (auto strong = weak.lock())
      caf::anon_send(caf::actor_cast<call_tracker_actor>(strong),
                     credit_atom_v);
  });
  if (!open)
    return;
  for (auto& promise : st.held_back)
    promise.deliver(true);
  st.held_back.clear();
}

void sweep(tracker_pointer self) {
  std::vector<completed_call> out;
  self->state.correlator->finalize_stale(self->state.clock(), out);
  flush(self, out);
  arm(self);
}

} // namespace

call_tracker_actor::behavior_type
call_tracker(call_tracker_actor::stateful_pointer<call_tracker_state> self,
             std::vector<pbx_config> pbxes, tracker_config config,
             customer_matcher_actor matcher) {
  return call_tracker_with_clock(self, std::move(pbxes), config,
                                 std::move(matcher), system_wall_clock());
}

call_tracker_actor::behavior_type call_tracker_bounded(
    call_tracker_actor::stateful_pointer<call_tracker_state> self,
    std::vector<pbx_config> pbxes, tracker_config config,
    customer_matcher_actor matcher, std::shared_ptr<flow_gate> downstream) {
  self->state.downstream = std::move(downstream);
  return call_tracker_with_clock(self, std::move(pbxes), config,
                                 std::move(matcher), system_wall_clock());
}

call_tracker_actor::behavior_type call_tracker_with_clock(
    call_tracker_actor::stateful_pointer<call_tracker_state> self,
    std::vector<pbx_config> pbxes, tracker_config config,
    customer_matcher_actor matcher, wall_clock clock) {
  auto& st = self->state;
  st.clock = std::move(clock);
  st.correlator = std::make_unique<call_correlator>(
      std::move(pbxes), correlator_options::from(config));
  st.correlator->collect_notices(&st.notices);
  st.matcher = std::move(matcher);
  auto& reg = metrics::global();
  st.live_calls
      = &reg.get_gauge("switchboard_calls_live",
                       "Calls in progress, by source.", {{"source", "ami"}});
  const char* calls_help = "AMI calls finalized, by whether their last "
                           "Hangup was seen.";
  st.calls_complete = &reg.get_counter("switchboard_tracker_calls_total",
                                       calls_help, {{"result", "complete"}});
  st.calls_incomplete
      = &reg.get_counter("switchboard_tracker_calls_total", calls_help,
                         {{"result", "incomplete"}});
  const char* dropped_help = "AMI events the tracker dropped, by reason.";
  st.late_events
      = &reg.get_counter("switchboard_tracker_dropped_events_total",
                         dropped_help, {{"reason", "call_finalized"}});
  st.orphan_cdrs = &reg.get_counter("switchboard_tracker_dropped_events_total",
                                    dropped_help, {{"reason", "unknown_cdr"}});
  st.queued_calls = &reg.get_gauge(
      "switchboard_pipeline_queued_calls",
      "Completed AMI calls between the tracker and the database.");
  st.capped_events
      = &reg.get_counter("switchboard_tracker_dropped_events_total",
                         dropped_help, {{"reason", "live_call_cap"}});
  return {
      [self](ami_event_batch& batch) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        apply(self, batch);
      },
      [self](ami_event_batch& batch, credit_atom) -> caf::result<bool> {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        apply(self, batch);
        auto& st = self->state;
        if (!st.downstream
            || (st.held_back.empty() && st.downstream->open()))
          return true;
        auto promise = self->make_response_promise<bool>();
        st.held_back.push_back(promise);
        answer_held_back(self);
        return promise;
      },
      [self](credit_atom) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        answer_held_back(self);
      },
      [self](connection_lost_atom, std::string& pbx) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        log::info(call_tracker_state::name,
                  "connection lost: the re-sync after the next login tells "
                  "which of its live calls are still up",
                  {{"pbx", pbx}});
        self->state.correlator->on_connection_lost(pbx, self->state.clock());
        arm(self);
      },
      [self](sweep_atom) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        sweep(self);
      },
      [self](sweep_atom, uint64_t generation) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        if (generation != self->state.timer_generation)
          return; // superseded by an earlier deadline
        self->state.timer_due = 0;
        sweep(self);
      },
      [self](flush_atom) -> int64_t {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        // Past the Cdr grace of every hung-up call; live calls stay live.
        std::vector<completed_call> out;
        self->state.correlator->finalize_stale(self->state.clock() + 1000000, out);
        auto n = static_cast<int64_t>(out.size());
        flush(self, out);
        return n;
      },
      [self](active_atom) -> std::vector<live_call> {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        return self->state.correlator->active();
      },
      [self](rewire_atom, caf::actor& matcher) {
        self->state.matcher = caf::actor_cast<customer_matcher_actor>(matcher);
      },
      [self](rewire_atom, std::string& pbx, caf::actor& catchup) {
        self->state.cdr_catchup[pbx] = std::move(catchup);
      },
  };
}

} // namespace sb
