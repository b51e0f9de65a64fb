#pragma once

#include <cstdint>
#include <vector>

#include <caf/typed_actor.hpp>

#include "messages/type_ids.hpp"

namespace sb {

/// Attaches the CRM customer to each completed call by its outside number and
/// forwards the result to the comms-log writer.
using customer_matcher_actor = caf::typed_actor<
  // Completed calls from a tracker (AMI or Ozonetel); each AMI call is also
  // a call.ended event.
  caf::reacts_to<std::vector<completed_call>>,
  // What live AMI calls do (the tracker): to the event log, call.ringing
  // with the customer of the outside number.
  caf::reacts_to<std::vector<live_notice>>,
  // The customer of each call's outside number (GET /api/calls/active).
  caf::replies_to<match_atom, std::vector<live_call>>::with<
    std::vector<live_call>>,
  // A click-to-call request about to be sent to its PBX: the call it
  // places, its events and its entry get this customer (when given) and
  // the request's own extension and number (call.originate_failed).
  caf::replies_to<originate_atom, originate_request>::with<bool>,
  // Where events go (an event_log_actor; invalid = none).
  caf::reacts_to<events_atom, caf::actor>,
  // A customer was added or changed: index it now.
  caf::reacts_to<customer_atom, customer>,
  // Reload the whole phone index from the database.
  caf::reacts_to<reload_atom>,
  // A stop: hand on every held call (unmatched if the index never loaded),
  // then flush the writer with this budget in milliseconds; answers the
  // writer's report.
  caf::replies_to<flush_atom, int64_t>::with<drain_report>,
  // The comms-log writer was restarted: matched calls go to this one (a
  // comms_log_writer_actor; the root supervisor sends it).
  caf::reacts_to<rewire_atom, caf::actor>>;

} // namespace sb
