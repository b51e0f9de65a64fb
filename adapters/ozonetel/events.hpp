#pragma once

// CloudAgent's real-time events (Subscribe API) as they arrive at our
// receivers: a JSON object per POST (call events: eventType, action
// Calling / Answered / Disconnect, call_type, ucid, monitor_ucid, agent_id,
// caller_id, did, agent_number, skill, event_time; agent events: the agent
// and its new state). Read defensively: names in several spellings, unknown
// states kept as text, times in the account's time zone.

#include <string>
#include <string_view>

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

/// `offset` is the account's UTC offset ("+05:30").
call_event_parse parse_call_event(std::string_view json,
                                  const std::string& offset);

agent_event_parse parse_agent_event(std::string_view json,
                                    const std::string& offset);

/// CloudAgent's word for an agent state -> ours: ready, busy, acw, paused,
/// logged_out, logged_in, or the text itself (lower case).
std::string agent_state_name(const std::string& text);

} // namespace sb::ozonetel
