#pragma once

// CloudAgent's real-time events (Subscribe API) as they arrive at our
// receivers: a JSON object per POST (call events: eventType, action
// Calling / Answered / Disconnect, call_type, ucid, monitor_ucid, agent_id,
// caller_id, did, agent_number, skill, event_time; agent events: the agent
// and its new state). Read defensively: names in several spellings, unknown
// states kept as text, times in the account's time zone.

#include <string>
#include <string_view>

#include "core/time_zone.hpp"
#include "messages/ozonetel_agents.hpp"

namespace sb::ozonetel {

struct call_event_parse {
  bool ok = false;
  std::string error;
  ozonetel_call_event event;
};

struct agent_event_parse {
  bool ok = false;
  std::string error;
  ozonetel_agent_event event;
};

/// `zone` is the account's time zone (the events' times are local).
call_event_parse parse_call_event(std::string_view json,
                                  const time_zone& zone);

agent_event_parse parse_agent_event(std::string_view json,
                                    const time_zone& zone);

/// CloudAgent's word for an agent state -> ours: ready, busy, acw, paused,
/// logged_out, logged_in, or the text itself (lower case).
std::string agent_state_name(const std::string& text);

} // namespace sb::ozonetel
