#pragma once

// Events raised by the CRM side (customer changes, calls re-matched after a
// customer change) and by click-to-call (an Originate the PBX failed), in
// the shape of the durable event log's `event_record` (type, origin,
// call_id, extension, agent_id, customer_id, payload JSON).
//
// They go to a sink, a function the server installs: the application's
// sends `append_atom, event_record{...}` to the event log, field for field;
// without one (HTTP tests) each event is one debug log line.

#include <cstdint>
#include <functional>
#include <string>

#include <caf/optional.hpp>

namespace sb {

struct crm_event {
  /// "customer.created", "customer.updated", "customer.deleted",
  /// "call.matched", "call.originate_failed".
  std::string type;
  /// "crm" for customer changes and re-matches, the PBX name for Originate.
  std::string origin;
  std::string call_id;
  std::string extension;
  std::string agent_id;
  caf::optional<int64_t> customer_id;
  /// The event's `data` object, JSON.
  std::string payload_json;
};

/// Called on whatever thread raised the event; must be quick and
/// thread-safe (send to an actor, never block).
using crm_event_sink = std::function<void(crm_event)>;

} // namespace sb
