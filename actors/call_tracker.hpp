#pragma once

// The call tracker actor: a thin shell around call_correlator (the logic,
// domain/call_correlator.hpp) that owns its timer and forwards completed
// calls to the customer matcher.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "adapters/metrics/registry.hpp"
#include "config/config.hpp"
#include "core/flow_gate.hpp"
#include "domain/call_correlator.hpp"
#include "messages/call_tracker_actor.hpp"
#include "messages/customer_matcher_actor.hpp"

namespace sb {

struct call_tracker_state {
  static inline const char* name = "call_tracker";

  metrics::actor_metrics* metrics = &metrics::global().actor(name);
  std::unique_ptr<call_correlator> correlator;
  /// What live calls did during the current message (the correlator
  /// appends), sent to the matcher before the calls that completed.
  std::vector<live_notice> notices;
  /// Where completed calls go; may be invalid (tests, no database).
  customer_matcher_actor matcher;
  /// Per PBX name: the CDR catch-up actor that receives its re-syncs' gaps
  /// (`cdr_gap_atom, cdr_gap`); PBXes without one have no CDR database.
  std::map<std::string, caf::actor> cdr_catchup;
  /// The arrival clock for deadlines (ami_event::received is on it too).
  wall_clock clock = system_wall_clock();

  /// One timer is armed at a time: `timer_generation` names it and
  /// `timer_due` (arrival clock, 0 = none) is when it fires. A timer message
  /// of an older generation is ignored.
  uint64_t timer_generation = 0;
  unix_micros timer_due = 0;

  metrics::gauge* live_calls = nullptr;
  metrics::counter* calls_complete = nullptr;
  metrics::counter* calls_incomplete = nullptr;
  metrics::counter* late_events = nullptr;
  metrics::counter* orphan_cdrs = nullptr;
  metrics::counter* capped_events = nullptr;
  metrics::gauge* queued_calls = nullptr;
  /// When the live-call cap of each PBX was last warned about.
  std::unordered_map<std::string, std::chrono::steady_clock::time_point>
      cap_warned;
  /// Correlator counters already added to the metrics above.
  correlator_stats reported;

  /// Completed calls handed on and not yet committed or spooled by the
  /// writer, shared with the matcher and the writer; null = no bound.
  std::shared_ptr<flow_gate> downstream;
  /// Answers to (batch, credit) requests held back until the writer has
  /// room: the parser releases a batch's bytes to its reader only then.
  std::deque<caf::typed_response_promise<bool>> held_back;
};

/// `pbxes` gives each PBX's trunk and context rules (events of other PBXes
/// use the FreePBX defaults); `matcher` receives one
/// std::vector<completed_call> per batch that completed calls.
call_tracker_actor::behavior_type
call_tracker(call_tracker_actor::stateful_pointer<call_tracker_state> self,
             std::vector<pbx_config> pbxes, tracker_config config,
             customer_matcher_actor matcher);

/// As call_tracker, with the clock its deadlines run on (tests pass the
/// deterministic scheduler's).
call_tracker_actor::behavior_type call_tracker_with_clock(
    call_tracker_actor::stateful_pointer<call_tracker_state> self,
    std::vector<pbx_config> pbxes, tracker_config config,
    customer_matcher_actor matcher, wall_clock clock);

/// As call_tracker, charging every completed call it hands on to
/// `downstream` (released by the writer when the call is committed or
/// spooled); while that gate is closed, (batch, credit) requests are
/// answered late, which stops the PBX readers.
call_tracker_actor::behavior_type call_tracker_bounded(
    call_tracker_actor::stateful_pointer<call_tracker_state> self,
    std::vector<pbx_config> pbxes, tracker_config config,
    customer_matcher_actor matcher, std::shared_ptr<flow_gate> downstream);

} // namespace sb
