#include "adapters/json/row_json.hpp"

#include <cstdio>

namespace sb::json {

void write_entry(writer& w, const comms_entry& x) {
  w.StartObject();
  w.Key("id");
  w.Int64(x.id);
  w.Key("customer_id");
  if (x.customer_id)
    w.Int64(*x.customer_id);
  else
    w.Null();
  w.Key("type");
  write_string(w, x.type);
  w.Key("direction");
  write_string(w, x.direction);
  w.Key("body");
  write_string(w, x.body);
  w.Key("source");
  write_string(w, x.source);
  write_optional_text(w, "ext_message_id", x.ext_message_id);
  write_optional_text(w, "external_number", x.external_number);
  write_optional_text(w, "extension", x.extension);
  write_optional_text(w, "disposition", x.disposition);
  w.Key("duration_seconds");
  w.Int64(x.duration_seconds);
  w.Key("billsec");
  w.Int64(x.billsec);
  w.Key("talk_seconds");
  w.Int64(x.talk_seconds);
  write_optional_text(w, "ucid", x.ucid);
  w.Key("occurred_at");
  write_string(w, x.occurred_at);
  w.Key("created_at");
  write_string(w, x.created_at);
  write_optional_text(w, "origin", x.origin);
  w.Key("incomplete");
  w.Bool(x.incomplete);
  write_optional_text(w, "crm_ref", x.crm_ref);
  write_optional_text(w, "recording", x.recording);
  write_optional_text(w, "request_id", x.request_id);
  w.Key("updated_at");
  write_string(w, x.updated_at.empty() ? x.created_at : x.updated_at);
  write_optional_text(w, "customer_name", x.customer_name);
  write_optional_text(w, "recovered", x.recovered);
  write_optional_text(w, "recording_url", x.recording_url);
  w.EndObject();
}

std::string entry_json(const comms_entry& x) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  write_entry(w, x);
  return {buf.GetString(), buf.GetSize()};
}

std::string iso8601_millis(unix_micros t) {
  auto seconds = t >= 0 ? t / 1000000 : (t - 999999) / 1000000;
  auto millis = (t - seconds * 1000000) / 1000;
  auto text = iso8601_utc(seconds * 1000000); // ...:SSZ
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(millis));
  text.insert(text.size() - 1, frac);
  return text;
}

} // namespace sb::json
