#pragma once

#include <cstdint>
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
  // The same, answered once the events are applied and the calls they
  // completed may be handed on (the writer has room for them): the parser
  // releases the batch's bytes to its reader then (flow control).
  caf::replies_to<ami_event_batch, credit_atom>::with<bool>,
  // Internal: the writer made room; answer the batches held back.
  caf::reacts_to<credit_atom>,
  // The PBX connection dropped: its live calls may never see their Hangup, so
  // they are finalized (flagged incomplete) unless events resume in time.
  caf::reacts_to<connection_lost_atom, std::string>,
  // Finalize now whatever is due (hung-up calls past their wait for trailing
  // Cdr events, stale calls, calls past the maximum age).
  caf::reacts_to<sweep_atom>,
  // The tracker's own timer (delayed_send to itself) with its generation:
  // only the latest armed timer acts. Not for other actors.
  caf::reacts_to<sweep_atom, uint64_t>,
  // A stop: finalize the hung-up calls still waiting for their trailing Cdr
  // and hand them on; answers how many were handed on.
  caf::replies_to<flush_atom>::with<int64_t>,
  // Calls in progress now.
  caf::replies_to<active_atom>::with<std::vector<live_call>>,
  // The customer matcher was restarted: completed calls go to this one (a
  // customer_matcher_actor; the root supervisor sends it).
  caf::reacts_to<rewire_atom, caf::actor>,
  // Gaps found by the re-syncs of PBX `std::string` go to this CDR
  // catch-up actor (a cdr_catchup_actor), as `cdr_gap_atom, cdr_gap`.
  caf::reacts_to<rewire_atom, std::string, caf::actor>>;

} // namespace sb
