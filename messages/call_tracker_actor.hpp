#pragma once

#include <string>
#include <vector>

#include <caf/typed_actor.hpp>

#include "messages/type_ids.hpp"

namespace sb {

/// Follows every AMI call by Linkedid and emits one completed_call per call
/// (as a std::vector<completed_call> batch) to the customer matcher.
using call_tracker_actor = caf::typed_actor<
  // Parsed events from one PBX, in arrival order.
  caf::reacts_to<ami_event_batch>,
  // The PBX connection dropped: its live calls may never see their Hangup, so
  // they are finalized (flagged incomplete) unless events resume in time.
  caf::reacts_to<connection_lost_atom, std::string>,
  // Periodic tick: finalize calls that went silent for too long.
  caf::reacts_to<sweep_atom>,
  // Calls in progress now.
  caf::replies_to<active_atom>::with<std::vector<live_call>>>;

} // namespace sb
