#include "adapters/ozonetel/events.hpp"

#include <initializer_list>

#include <rapidjson/document.h>

#include "adapters/ozonetel/json_guard.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"
#include "core/time_zone.hpp"

namespace sb::ozonetel {

namespace {

/// The first of `names` holding a string or a whole number, as text.
std::string text(const rapidjson::Value& object,
                 std::initializer_list<const char*> names) {
  for (auto name : names) {
    auto i = object.FindMember(name);
    if (i == object.MemberEnd())
      continue;
    auto& v = i->value;
    if (v.IsString() && v.GetStringLength() > 0)
      return {v.GetString(), v.GetStringLength()};
    if (v.IsInt64())
      return std::to_string(v.GetInt64());
    if (v.IsUint64())
      return std::to_string(v.GetUint64());
  }
  return {};
}

/// Text fields are bounded: an event is small, anything longer is refused.
constexpr size_t max_field = 256;

template <class Parse>
bool read_object(std::string_view json, rapidjson::Document& doc,
                 Parse& result) {
  if (auto why = parse_untrusted_json(doc, json); !why.empty()) {
    result.error = "the event is refused: " + why;
    return false;
  }
  if (!doc.IsObject()) {
    result.error = "the event is not a JSON object";
    return false;
  }
  for (auto& m : doc.GetObject())
    if (m.value.IsString() && m.value.GetStringLength() > max_field) {
      result.error = std::string{m.name.GetString()} + " is longer than "
                     + std::to_string(max_field) + " characters";
      return false;
    }
  return true;
}

bool has(const std::string& text, const char* word) {
  return text.find(word) != std::string::npos;
}

} // namespace

std::string agent_state_name(const std::string& raw) {
  auto t = lower(trim_copy(raw));
  std::string squeezed;
  for (char c : t)
    if (c != ' ' && c != '_' && c != '-')
      squeezed.push_back(c);
  if (has(squeezed, "logout") || has(squeezed, "loggedout")
      || has(squeezed, "offline") || has(squeezed, "logoff"))
    return "logged_out";
  if (has(squeezed, "acw") || has(squeezed, "wrap")
      || has(squeezed, "aftercall"))
    return "acw";
  if (has(squeezed, "pause") || has(squeezed, "aux") || has(squeezed, "break"))
    return "paused";
  if (has(squeezed, "busy") || has(squeezed, "incall") || has(squeezed, "oncall")
      || has(squeezed, "calling") || has(squeezed, "answered"))
    return "busy";
  if (has(squeezed, "ready") || has(squeezed, "idle")
      || has(squeezed, "available"))
    return "ready";
  if (has(squeezed, "login") || has(squeezed, "loggedin"))
    return "logged_in";
  return t;
}

call_event_parse parse_call_event(std::string_view json,
                                  const time_zone& zone) {
  call_event_parse result;
  rapidjson::Document doc;
  if (!read_object(json, doc, result))
    return result;
  auto& e = result.event;
  e.event_type = text(doc, {"eventType", "event_type", "EventType"});
  e.action = text(doc, {"action", "Action", "status"});
  e.call_type = text(doc, {"call_type", "callType", "CallType", "type"});
  e.ucid = text(doc, {"ucid", "UCID", "Ucid"});
  e.monitor_ucid = text(doc, {"monitor_ucid", "monitorUCID", "monitorUcid"});
  e.agent_id = text(doc, {"agent_id", "agentId", "AgentID", "agentID"});
  e.caller_id = text(doc, {"caller_id", "callerId", "CallerID"});
  e.did = text(doc, {"did", "DID", "Did"});
  e.agent_number = text(doc, {"agent_number", "agentNumber"});
  e.skill = text(doc, {"skill", "Skill"});
  e.event_time_text = text(doc, {"event_time", "eventTime", "EventTime"});
  if (auto t = parse_local_time(e.event_time_text, zone))
    e.event_time = *t;
  if (e.ucid.empty() && e.monitor_ucid.empty()) {
    result.error = "the event carries no ucid / monitor_ucid";
    return result;
  }
  if (e.action.empty()) {
    result.error = "the event carries no action";
    return result;
  }
  result.ok = true;
  return result;
}

agent_event_parse parse_agent_event(std::string_view json,
                                    const time_zone& zone) {
  agent_event_parse result;
  rapidjson::Document doc;
  if (!read_object(json, doc, result))
    return result;
  auto& e = result.event;
  e.agent_id = text(doc, {"agent_id", "agentId", "AgentID", "agentID"});
  e.raw_state = text(doc, {"state", "agent_state", "agentState", "status",
                           "action", "event", "Action"});
  e.state = agent_state_name(e.raw_state);
  auto when = text(doc, {"event_time", "eventTime", "EventTime"});
  if (auto t = parse_local_time(when, zone))
    e.event_time = *t;
  if (e.agent_id.empty()) {
    result.error = "the event carries no agent_id";
    return result;
  }
  if (e.state.empty()) {
    result.error = "the event carries no state (action / state)";
    return result;
  }
  result.ok = true;
  return result;
}

} // namespace sb::ozonetel
