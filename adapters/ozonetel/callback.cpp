#include "adapters/ozonetel/callback.hpp"

#include <cctype>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "adapters/ozonetel/answer.hpp"

namespace sb::ozonetel {

namespace {

void strip_secrets(rapidjson::Value& value) {
  if (value.IsObject()) {
    std::vector<std::string> doomed;
    for (auto& member : value.GetObject()) {
      std::string_view key{member.name.GetString(),
                           member.name.GetStringLength()};
      if (is_secret_key(key))
        doomed.emplace_back(key);
      else
        strip_secrets(member.value);
    }
    for (auto& key : doomed)
      value.RemoveMember(key.c_str());
  } else if (value.IsArray()) {
    for (auto& element : value.GetArray())
      strip_secrets(element);
  }
}

std::string text_of(const rapidjson::Value& object,
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
    if (v.IsDouble())
      return std::to_string(static_cast<int64_t>(v.GetDouble()));
  }
  return {};
}

/// `Type` says the customer called in (anything else is a dialler mode).
bool is_inbound(std::string_view type) {
  auto t = lower(type);
  return t == "inbound" || t == "in bound" || t == "in";
}

/// `Status` says the call was answered.
bool is_answered(std::string_view status) {
  return lower(status) == "answered";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

int64_t parse_hms(std::string_view text) {
  int64_t total = 0;
  int64_t part = 0;
  bool any = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      part = part * 10 + (c - '0');
      any = true;
    } else if (c == ':') {
      total = total * 60 + part;
      part = 0;
    } else if (c == ' ') {
      continue;
    } else {
      return 0;
    }
  }
  return any ? total * 60 + part : 0;
}

std::string form_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size()
               && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out.push_back(
        static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

callback_parse parse_callback_json(std::string_view json) {
  callback_parse result;
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    result.error = "the callback's data field is not a JSON object";
    return result;
  }
  strip_secrets(doc);
  auto& d = result.details;
  d.ucid = text_of(doc, {"monitorUCID", "MonitorUCID", "monitorUcid", "UCID",
                         "ucid"});
  d.caller_id = text_of(doc, {"CallerID", "CallerId", "callerID", "caller_id"});
  d.did = text_of(doc, {"Did", "DID", "did"});
  d.campaign = text_of(doc, {"CampaignName", "campaignName"});
  d.agent_id = text_of(doc, {"AgentID", "AgentId", "agentID", "agent_id"});
  d.start_time = text_of(doc, {"StartTime", "startTime"});
  d.end_time = text_of(doc, {"EndTime", "endTime"});
  d.duration_seconds = parse_hms(text_of(doc, {"Duration", "duration"}));
  d.call_duration_seconds
    = parse_hms(text_of(doc, {"CallDuration", "callDuration"}));
  d.status = text_of(doc, {"Status", "status"});
  d.dial_status = text_of(doc, {"DialStatus", "dialStatus"});
  d.disposition = text_of(doc, {"Disposition", "disposition"});
  d.hangup_by = text_of(doc, {"HangupBy", "hangupBy"});
  d.type = text_of(doc, {"Type", "type", "CallType"});
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
    if (eq != std::string_view::npos && form_decode(pair.substr(0, eq)) == "data")
      return parse_callback_json(form_decode(pair.substr(eq + 1)));
    pos = end + 1;
  }
  callback_parse result;
  result.error = "the callback has no form field `data`";
  return result;
}

} // namespace sb::ozonetel
