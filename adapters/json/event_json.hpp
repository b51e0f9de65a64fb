#pragma once

// The events switchboard appends to its event log, built from what the
// actors know (their `data` payloads as docs/openapi.yaml describes them).
// Cheap: one small JSON object each, no lookups.

#include <cstdint>
#include <string>

#include <caf/optional.hpp>

#include "messages/calls.hpp"
#include "messages/comms.hpp"
#include "messages/events.hpp"

namespace sb::json {

/// One stored event as GET /api/events carries it in `data:` and webhooks
/// POST it: `{"id":..,"type":..,"at":..,"origin":..,"data":{payload}}`.
std::string event_json(const stored_event& e);

/// call.ringing / call.answered / call.transferred of an AMI call;
/// `customer_name` is used only with a customer id (ringing only).
event_record notice_event(const live_notice& n,
                          caf::optional<int64_t> customer_id,
                          const std::string& customer_name);

/// call.ended of a finalized AMI call.
event_record ended_event(const completed_call& c,
                         caf::optional<int64_t> customer_id);

/// call.logged of a committed call: the payload is read from the comms log
/// by the event log (event_record::entry_source).
event_record logged_event(const completed_call& c);

/// manual.logged of a manual entry as stored.
event_record manual_event(const comms_entry& entry);

/// ozonetel.call: `{ucid, agent_id, action, phone_number?, ...}`.
event_record ozonetel_call_event(const std::string& ucid,
                                 const std::string& agent_id,
                                 const std::string& action,
                                 const std::string& phone_number);

/// ozonetel.disposition: `{ucid, agent_id, disposition, status}`.
event_record ozonetel_disposition_event(const std::string& ucid,
                                        const std::string& agent_id,
                                        const std::string& disposition,
                                        const std::string& status);

/// ozonetel.agent_state: `{agent_id, state}`.
event_record ozonetel_agent_state_event(const std::string& agent_id,
                                        const std::string& state);

} // namespace sb::json
