#include "adapters/ozonetel/callback.hpp"

#include <cctype>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/ozonetel/answer.hpp"
#include "adapters/ozonetel/json_guard.hpp"
#include "core/percent.hpp"

namespace sb::ozonetel {

namespace {

void strip_secrets(rapidjson::Value& root) {
  for_each_value(root, [](rapidjson::Value& value) {
    if (!value.IsObject())
      return;
    std::vector<std::string> doomed;
    for (auto& member : value.GetObject()) {
      std::string_view key{member.name.GetString(),
                           member.name.GetStringLength()};
      if (is_secret_key(key))
        doomed.emplace_back(key);
    }
    for (auto& key : doomed)
      value.RemoveMember(rapidjson::StringRef(key.data(), key.size()));
  });
}

/// Reads fields as text and keeps the first problem: a number outside
/// int64 (monitorUCID: 1e300) or with a fraction is refused, never cast.
struct field_reader {
  const rapidjson::Value& object;
  std::string problem;

  std::string text(std::initializer_list<const char*> names) {
    for (auto name : names) {
      auto i = object.FindMember(name);
      if (i == object.MemberEnd())
        continue;
      auto& v = i->value;
      if (v.IsString() && v.GetStringLength() > 0)
        return {v.GetString(), v.GetStringLength()};
      if (v.IsNumber()) {
        int64_t whole = 0;
        if (whole_number(v, whole))
          return std::to_string(whole);
        if (problem.empty())
          problem = std::string{name}
                    + " is a number that is not a whole number in range";
        return {};
      }
    }
    return {};
  }
};

/// `Type` says the customer called in (anything else is a dialler mode).
bool is_inbound(std::string_view type) {
  auto t = lower(type);
  return t == "inbound" || t == "in bound" || t == "in";
}

/// `Status` says the call was answered.
bool is_answered(std::string_view status) {
  return lower(status) == "answered";
}


} // namespace

int64_t parse_hms(std::string_view text) {
  int64_t total = 0;
  int64_t part = 0;
  bool any = false;
  // Every step is checked: a string of digits long enough to overflow is
  // unreadable, not a negative duration.
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (__builtin_mul_overflow(part, 10, &part)
          || __builtin_add_overflow(part, c - '0', &part))
        return 0;
      any = true;
    } else if (c == ':') {
      if (__builtin_mul_overflow(total, 60, &total)
          || __builtin_add_overflow(total, part, &total))
        return 0;
      part = 0;
    } else if (c == ' ') {
      continue;
    } else {
      return 0;
    }
  }
  int64_t seconds = 0;
  if (!any || __builtin_mul_overflow(total, 60, &seconds)
      || __builtin_add_overflow(seconds, part, &seconds))
    return 0;
  return seconds;
}

callback_parse parse_callback_json(std::string_view json) {
  callback_parse result;
  rapidjson::Document doc;
  if (auto why = parse_untrusted_json(doc, json); !why.empty()) {
    result.malformed = true;
    result.error = "the callback's data field is refused: " + why;
    return result;
  }
  if (!doc.IsObject()) {
    result.malformed = true;
    result.error = "the callback's data field is not a JSON object";
    return result;
  }
  strip_secrets(doc);
  auto& d = result.details;
  field_reader fields{doc, {}};
  d.ucid = fields.text(
      {"monitorUCID", "MonitorUCID", "monitorUcid", "UCID", "ucid"});
  d.caller_id = fields.text({"CallerID", "CallerId", "callerID", "caller_id"});
  d.did = fields.text({"Did", "DID", "did"});
  d.campaign = fields.text({"CampaignName", "campaignName"});
  d.agent_id = fields.text({"AgentID", "AgentId", "agentID", "agent_id"});
  d.start_time = fields.text({"StartTime", "startTime"});
  d.end_time = fields.text({"EndTime", "endTime"});
  d.duration_seconds = parse_hms(fields.text({"Duration", "duration"}));
  d.call_duration_seconds
      = parse_hms(fields.text({"CallDuration", "callDuration"}));
  d.status = fields.text({"Status", "status"});
  d.dial_status = fields.text({"DialStatus", "dialStatus"});
  d.disposition = fields.text({"Disposition", "disposition"});
  d.hangup_by = fields.text({"HangupBy", "hangupBy"});
  d.type = fields.text({"Type", "type", "CallType"});
  d.audio_file = fields.text({"AudioFile", "audioFile", "audio_file"});
  if (!fields.problem.empty()) {
    result.error = fields.problem;
    return result;
  }
  d.inbound = is_inbound(d.type);
  d.answered = is_answered(d.status);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
  doc.Accept(writer);
  d.sanitized_json.assign(buffer.GetString(), buffer.GetSize());
  if (d.ucid.empty()) {
    result.error = "the callback carries no monitorUCID";
    return result;
  }
  result.ok = true;
  return result;
}

callback_parse parse_callback_form(std::string_view form_body) {
  size_t pos = 0;
  while (pos <= form_body.size()) {
    auto end = form_body.find('&', pos);
    if (end == std::string_view::npos)
      end = form_body.size();
    auto pair = form_body.substr(pos, end - pos);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos
        && percent_decode(pair.substr(0, eq), true) == "data")
      return parse_callback_json(percent_decode(pair.substr(eq + 1), true));
    pos = end + 1;
  }
  callback_parse result;
  result.error = "the callback has no form field `data`";
  return result;
}

} // namespace sb::ozonetel
