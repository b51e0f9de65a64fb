#pragma once

// The call tracker actor: a thin shell around call_correlator (the logic,
// domain/call_correlator.hpp) that owns its timer and forwards completed
// calls to the customer matcher.

#include <cstdint>
#include <memory>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "adapters/metrics/registry.hpp"
#include "config/config.hpp"
#include "domain/call_correlator.hpp"
#include "messages/call_tracker_actor.hpp"
#include "messages/customer_matcher_actor.hpp"

namespace sb {

struct call_tracker_state {
  static inline const char* name = "call_tracker";

  metrics::actor_metrics* metrics = &metrics::global().actor(name);
  std::unique_ptr<call_correlator> correlator;
  /// Where completed calls go; may be invalid (tests, no database).
  customer_matcher_actor matcher;
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
  /// Correlator counters already added to the metrics above.
  correlator_stats reported;
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

} // namespace sb
