#pragma once

// CloudAgent's call-details callback (SPEC section 3): after every call,
// answered or not, CloudAgent POSTs a form whose field `data` holds a JSON
// string. The JSON carries the account's `Apikey`, which is removed here,
// before anything else sees the payload.

#include <cstdint>
#include <string>
#include <string_view>

namespace sb::ozonetel {

struct call_details {
  /// monitorUCID (falls back to UCID): the call's identity.
  std::string ucid;
  std::string caller_id;
  std::string did;
  std::string campaign;
  std::string agent_id;
  /// "YYYY-MM-DD HH:MM:SS" in the account's time zone, as sent.
  std::string start_time;
  std::string end_time;
  /// Duration ("HH:MM:SS") in seconds: the whole call.
  int64_t duration_seconds = 0;
  /// CallDuration in seconds: the customer connected to the agent.
  int64_t call_duration_seconds = 0;
  /// "Answered", "NotAnswered", ...
  std::string status;
  std::string dial_status;
  /// The disposition set in CloudAgent, if any.
  std::string disposition;
  std::string hangup_by;
  /// "InBound", "Manual", "Progressive", "Preview", "Predictive".
  std::string type;
  std::string audio_file;
  std::string comments;
  /// The payload as received, minus its secrets: what may be stored/logged.
  std::string sanitized_json;

  /// `Type` says the customer called in (anything else is a dialler mode).
  bool inbound() const;
  /// `Status` says the call was answered.
  bool answered() const;
};

struct callback_parse {
  bool ok = false;
  /// Why the payload was refused (no secret in it).
  std::string error;
  call_details details;
};

/// Parses the JSON text of the `data` field.
callback_parse parse_callback_json(std::string_view json);

/// Parses a whole form body (application/x-www-form-urlencoded) and takes
/// its `data` field.
callback_parse parse_callback_form(std::string_view form_body);

/// "HH:MM:SS", "MM:SS" or plain seconds; 0 when unreadable.
int64_t parse_hms(std::string_view text);

/// Decodes one application/x-www-form-urlencoded value.
std::string form_decode(std::string_view text);

} // namespace sb::ozonetel
