#include "adapters/json/event_json.hpp"

#include "adapters/json/row_json.hpp"

namespace sb::json {

namespace {

std::string text_of(const rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

void write_customer(writer& w, caf::optional<int64_t> id,
                    const std::string& name) {
  w.Key("customer");
  if (!id) {
    w.Null();
    return;
  }
  w.StartObject();
  w.Key("id");
  w.Int64(*id);
  w.Key("name");
  write_string(w, name);
  w.EndObject();
}

void write_text(writer& w, const char* key, const std::string& value) {
  w.Key(key);
  write_string(w, value);
}

} // namespace

std::string event_json(const stored_event& e) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("id");
  w.Int64(e.id);
  write_text(w, "type", e.type);
  write_text(w, "at", e.at);
  write_text(w, "origin", e.origin);
  w.Key("data");
  const auto& payload = e.payload_json.empty() ? std::string{"{}"}
                                               : e.payload_json;
  w.RawValue(payload.data(), payload.size(), rapidjson::kObjectType);
  w.EndObject();
  return text_of(buf);
}

event_record notice_event(const live_notice& n,
                          caf::optional<int64_t> customer_id,
                          const std::string& customer_name) {
  event_record e;
  e.origin = n.origin;
  e.call_id = n.call_id;
  e.extension = n.extension;
  // `at` is when the log takes the event (not the PBX's clock): retention
  // and the order of `at` then follow the ids.
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  write_text(w, "call_id", n.call_id);
  write_text(w, "origin", n.origin);
  switch (n.kind) {
    case live_notice_kind::ringing:
      e.type = "call.ringing";
      e.customer_id = customer_id;
      write_text(w, "direction", n.direction);
      write_optional_text(w, "external_number", n.external_number);
      write_optional_text(w, "did", n.did);
      w.Key("extensions");
      w.StartArray();
      for (auto& x : n.extensions)
        write_string(w, x);
      w.EndArray();
      write_customer(w, customer_id, customer_name);
      if (!n.request_id.empty())
        write_text(w, "request_id", n.request_id);
      break;
    case live_notice_kind::originate_failed:
      // external_number is the number the Originate was to dial.
      e.type = "call.originate_failed";
      e.customer_id = customer_id;
      write_text(w, "request_id", n.request_id);
      write_text(w, "extension", n.extension);
      write_text(w, "phone_number", n.external_number);
      write_text(w, "reason", n.reason);
      w.Key("reason_code");
      w.Int64(n.reason_code);
      write_customer(w, customer_id, customer_name);
      break;
    case live_notice_kind::answered:
      e.type = "call.answered";
      write_text(w, "extension", n.extension);
      break;
    case live_notice_kind::transferred:
      e.type = "call.transferred";
      write_text(w, "from_extension", n.from_extension);
      write_text(w, "to_extension", n.extension);
      break;
  }
  w.EndObject();
  e.payload_json = text_of(buf);
  return e;
}

event_record ended_event(const completed_call& c,
                         caf::optional<int64_t> customer_id) {
  event_record e;
  e.type = "call.ended";
  e.origin = c.origin;
  e.call_id = c.ext_message_id;
  e.extension = c.extension;
  e.customer_id = customer_id;
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  write_text(w, "call_id", c.ext_message_id);
  write_text(w, "origin", c.origin);
  write_text(w, "disposition", to_string(c.disposition));
  w.Key("duration_seconds");
  w.Int64(c.duration_seconds);
  w.Key("incomplete");
  w.Bool(c.incomplete);
  w.EndObject();
  e.payload_json = text_of(buf);
  return e;
}

event_record logged_event(const completed_call& c) {
  event_record e;
  e.type = "call.logged";
  e.origin = c.origin;
  e.call_id = c.ext_message_id;
  e.extension = c.extension;
  e.entry_source = c.source;
  return e;
}

event_record manual_event(const comms_entry& entry) {
  event_record e;
  e.type = "manual.logged";
  e.origin = "manual";
  e.extension = entry.extension;
  e.customer_id = entry.customer_id;
  e.payload_json = "{\"entry\":" + entry_json(entry) + "}";
  return e;
}

namespace {

/// A CloudAgent event: the call's UCID (for call events) and the agent in
/// the record and first in the payload, then what `rest` writes.
template <class Rest>
event_record ozonetel_event(const char* type, const std::string* ucid,
                            const std::string& agent_id, Rest rest) {
  event_record e;
  e.type = type;
  e.origin = "ozonetel";
  if (ucid != nullptr)
    e.call_id = *ucid;
  e.agent_id = agent_id;
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  if (ucid != nullptr)
    write_optional_text(w, "ucid", *ucid);
  write_optional_text(w, "agent_id", agent_id);
  rest(w);
  w.EndObject();
  e.payload_json = text_of(buf);
  return e;
}

} // namespace

event_record ozonetel_call_event(const std::string& ucid,
                                 const std::string& agent_id,
                                 const std::string& action,
                                 const std::string& phone_number) {
  return ozonetel_event("ozonetel.call", &ucid, agent_id, [&](writer& w) {
    write_text(w, "action", action);
    write_optional_text(w, "phone_number", phone_number);
  });
}

event_record ozonetel_disposition_event(const std::string& ucid,
                                        const std::string& agent_id,
                                        const std::string& disposition,
                                        const std::string& status) {
  return ozonetel_event("ozonetel.disposition", &ucid, agent_id,
                        [&](writer& w) {
                          write_text(w, "disposition", disposition);
                          write_text(w, "status", status);
                        });
}

event_record ozonetel_agent_state_event(const std::string& agent_id,
                                        const std::string& state) {
  return ozonetel_event("ozonetel.agent_state", nullptr, agent_id,
                        [&](writer& w) { write_text(w, "state", state); });
}

} // namespace sb::json
