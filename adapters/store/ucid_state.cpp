#include "adapters/store/ucid_state.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace sb::store {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put(writer& w, const char* key, int64_t value) {
  w.Key(key);
  w.Int64(value);
}

void put_bool(writer& w, const char* key, bool value) {
  w.Key(key);
  w.Bool(value);
}

std::string text(const rapidjson::Value& v, const char* key) {
  auto i = v.FindMember(key);
  return i != v.MemberEnd() && i->value.IsString()
             ? std::string{i->value.GetString(), i->value.GetStringLength()}
             : std::string{};
}

int64_t number(const rapidjson::Value& v, const char* key,
               int64_t fallback = 0) {
  auto i = v.FindMember(key);
  return i != v.MemberEnd() && i->value.IsInt64() ? i->value.GetInt64()
                                                  : fallback;
}

bool flag(const rapidjson::Value& v, const char* key) {
  auto i = v.FindMember(key);
  return i != v.MemberEnd() && i->value.IsBool() && i->value.GetBool();
}

void write_times(writer& w, const ucid_call& c) {
  put(w, "created_at", c.created_at);
  put(w, "ringing_at", c.ringing_at);
  put(w, "answered_at", c.answered_at);
  put(w, "ended_at", c.ended_at);
  put(w, "finished_at", c.finished_at);
  put(w, "acw_started_at", c.acw_started_at);
  put(w, "retry_due", c.retry_due);
}

void write_disposition(writer& w, const ucid_call& c) {
  put(w, "progress", static_cast<int64_t>(c.progress));
  put(w, "disposition_name", c.disposition_name);
  put(w, "campaign_disposition", c.campaign_disposition);
  put(w, "notes", c.notes);
  put(w, "callback_time", c.callback_time);
  put_bool(w, "automatic", c.automatic);
  put_bool(w, "disposed_elsewhere", c.disposed_elsewhere);
  put(w, "disposition_attempts", static_cast<int64_t>(c.disposition_attempts));
  put(w, "disposition_answer", c.disposition_answer);
  put(w, "acw_generation", static_cast<int64_t>(c.acw_generation));
}

} // namespace

std::string encode_ucid_call(const ucid_call& c) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  put(w, "v", int64_t{1});
  put(w, "ucid", c.ucid);
  put(w, "direction", to_string(c.direction));
  put(w, "phase", to_string(c.phase));
  put(w, "agent_id", c.agent_id);
  put(w, "external_number", c.external_number);
  put(w, "did", c.did);
  put(w, "campaign", c.campaign);
  if (c.customer_id)
    put(w, "customer_id", *c.customer_id);
  write_times(w, c);
  put_bool(w, "answered", c.answered);
  put(w, "unanswered_outcome", to_string(c.unanswered_outcome));
  put_bool(w, "incomplete", c.incomplete);
  write_disposition(w, c);
  put_bool(w, "callback_seen", c.callback_seen);
  put(w, "callback_duration_seconds", c.callback_duration_seconds);
  put(w, "callback_talk_seconds", c.callback_talk_seconds);
  put(w, "emitted", static_cast<int64_t>(c.emitted));
  put(w, "entries_confirmed", static_cast<int64_t>(c.entries_confirmed));
  put(w, "crm_ref", c.crm_ref);
  put(w, "recording", c.recording);
  put(w, "fallback_duration_seconds", c.fallback_duration_seconds);
  put_bool(w, "events_seen", c.events_seen);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

caf::optional<ucid_call> decode_ucid_call(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject() || number(d, "v") != 1)
    return caf::none;
  ucid_call c;
  c.ucid = text(d, "ucid");
  if (c.ucid.empty() || !from_string(text(d, "direction"), c.direction)
      || !from_string(text(d, "phase"), c.phase))
    return caf::none;
  c.agent_id = text(d, "agent_id");
  c.external_number = text(d, "external_number");
  c.did = text(d, "did");
  c.campaign = text(d, "campaign");
  if (d.HasMember("customer_id"))
    c.customer_id = number(d, "customer_id");
  c.created_at = number(d, "created_at");
  c.ringing_at = number(d, "ringing_at");
  c.answered_at = number(d, "answered_at");
  c.ended_at = number(d, "ended_at");
  c.finished_at = number(d, "finished_at");
  c.acw_started_at = number(d, "acw_started_at");
  c.retry_due = number(d, "retry_due");
  c.answered = flag(d, "answered");
  from_string(text(d, "unanswered_outcome"), c.unanswered_outcome);
  c.incomplete = flag(d, "incomplete");
  auto progress = number(d, "progress");
  if (progress < 0 || progress > static_cast<int64_t>(disposition_progress::failed))
    return caf::none;
  c.progress = static_cast<disposition_progress>(progress);
  c.disposition_name = text(d, "disposition_name");
  c.campaign_disposition = text(d, "campaign_disposition");
  c.notes = text(d, "notes");
  c.callback_time = text(d, "callback_time");
  c.automatic = flag(d, "automatic");
  c.disposed_elsewhere = flag(d, "disposed_elsewhere");
  c.disposition_attempts = static_cast<int>(number(d, "disposition_attempts"));
  c.disposition_answer = text(d, "disposition_answer");
  c.acw_generation = static_cast<uint64_t>(number(d, "acw_generation"));
  c.callback_seen = flag(d, "callback_seen");
  c.callback_duration_seconds = number(d, "callback_duration_seconds");
  c.callback_talk_seconds = number(d, "callback_talk_seconds");
  c.emitted = static_cast<int>(number(d, "emitted"));
  // Absent in rows stored before it existed: unknown, checked at start-up.
  c.entries_confirmed = static_cast<int>(number(d, "entries_confirmed"));
  c.crm_ref = text(d, "crm_ref");
  c.recording = text(d, "recording");
  c.fallback_duration_seconds = number(d, "fallback_duration_seconds", -1);
  c.events_seen = flag(d, "events_seen");
  return c;
}

ucid_state_row ucid_row(const ucid_call& call) {
  return {call.ucid, call.agent_id, to_string(call.phase),
          encode_ucid_call(call)};
}

} // namespace sb::store
