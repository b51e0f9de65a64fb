#include "http/ozonetel_common.hpp"

#include "http/errors.hpp"
#include "http/json.hpp"

namespace sb::ozonetel_http {

using http::json_writer;


/// The sb::ec a failed ucid_reply stands for (its HTTP status and error
/// name follow from it).
ec error_of(ucid_reply_code code) {
  switch (code) {
    case ucid_reply_code::invalid:
      return ec::invalid;
    case ucid_reply_code::not_found:
      return ec::not_found;
    case ucid_reply_code::conflict:
      return ec::conflict;
    case ucid_reply_code::upstream:
      return ec::upstream;
    default:
      return ec::unavailable;
  }
}

bool reply_ok(ucid_reply_code code) {
  return code == ucid_reply_code::ok || code == ucid_reply_code::accepted;
}

void write_text(json_writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_optional(json_writer& w, const char* key, const std::string& value) {
  w.Key(key);
  if (value.empty())
    w.Null();
  else
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

// CloudAgent's answer as the API shows it: its raw body stays in the log
// (secrets removed), the caller gets the readable parts.
void write_cloudagent(json_writer& w, const ozonetel_answer& a) {
  w.Key("cloudagent");
  if (a.api.empty()) {
    w.Null();
    return;
  }
  w.StartObject();
  write_text(w, "api", a.api);
  write_text(w, "outcome", to_string(a.outcome));
  w.Key("http_status");
  w.Int(a.http_status);
  write_text(w, "status", a.status);
  write_text(w, "message", a.message);
  write_optional(w, "agent_state", a.agent_state);
  w.EndObject();
}

void write_reply_fields(json_writer& w, const ucid_reply& r) {
  write_optional(w, "ucid", r.ucid);
  write_optional(w, "state", r.state);
  write_optional(w, "disposition", r.disposition);
  write_cloudagent(w, r.cloudagent);
}

void send_reply(http::response& res, const ucid_reply& r) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  auto status = reply_ok(r.code) ? 200 : http::status_of(error_of(r.code));
  if (status >= 400) {
    // The common error shape, plus what we know of the call.
    write_text(w, "error", http::error_name_of(error_of(r.code)));
    write_text(w, "message", r.message.empty() ? to_string(r.code) : r.message);
  } else {
    write_text(w, "code", to_string(r.code));
    write_text(w, "message", r.message);
  }
  write_reply_fields(w, r);
  w.EndObject();
  http::send_json(res, status, {buf.GetString(), buf.GetSize()});
}

void write_time(json_writer& w, const char* key, unix_micros t) {
  w.Key(key);
  if (t == 0) {
    w.Null();
    return;
  }
  auto text = iso8601_utc(t);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void write_view(json_writer& w, const ozonetel_agent_view& v) {
  write_text(w, "agent_id", v.agent_id);
  write_text(w, "cloudagent_state", v.cloudagent_state);
  write_time(w, "cloudagent_state_at", v.cloudagent_state_at);
  w.Key("current_call");
  if (v.current_call) {
    auto& c = *v.current_call;
    w.StartObject();
    write_text(w, "ucid", c.id);
    write_text(w, "phone_number", c.external_number);
    write_text(w, "direction", to_string(c.direction));
    write_text(w, "state", to_string(c.state));
    write_time(w, "since", c.started_at);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("awaiting_disposition");
  w.StartArray();
  for (auto& a : v.awaiting_disposition) {
    w.StartObject();
    write_text(w, "ucid", a.ucid);
    write_text(w, "phone_number", a.phone_number);
    write_time(w, "ended_at", a.ended_at);
    w.EndObject();
  }
  w.EndArray();
  w.Key("pending_dial");
  if (!v.pending_dial_number.empty()) {
    w.StartObject();
    write_text(w, "phone_number", v.pending_dial_number);
    write_time(w, "since", v.pending_dial_since);
    write_optional(w, "ucid", v.pending_outbound);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("ready");
  w.Bool(v.ready);
}

void send_view(http::response& res, const ozonetel_agent_view& v) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  write_view(w, v);
  w.EndObject();
  http::send_json(res, 200, {buf.GetString(), buf.GetSize()});
}

bool acting_agent(const http::request& req, http::response& res,
                  const std::string& named, std::string& agent) {
  if (req.caller_role != "agent") {
    agent = named;
    return true;
  }
  if (!named.empty() && named != req.caller_agent) {
    http::send_error(res, 403, "forbidden",
                     "this agent token acts only for agent "
                         + req.caller_agent);
    return false;
  }
  agent = req.caller_agent;
  return true;
}

} // namespace sb::ozonetel_http
