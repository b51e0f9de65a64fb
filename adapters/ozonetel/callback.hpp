#pragma once

// CloudAgent's call-details callback: after every call,
// answered or not, CloudAgent POSTs a form whose field `data` holds a JSON
// string. The JSON carries the account's `Apikey`, which is removed here,
// before anything else sees the payload.

#include <cstdint>
#include <string>
#include <string_view>

#include "messages/ozonetel.hpp"

namespace sb::ozonetel {

struct callback_parse {
  bool ok = false;
  /// Why the payload was refused (no secret in it).
  std::string error;
  /// Refused because `data` is not JSON at all (syntax, nesting deeper than
  /// 64, invalid UTF-8): a 400, where a readable payload with a bad field
  /// is a 422.
  bool malformed = false;
  /// The call as it crosses to ucid_calls (messages/ is the contract):
  /// `monitorUCID` (falls back to `UCID`) as its identity, `Type` read into
  /// `inbound`, `Status` into `answered`, `sanitized_json` the payload as
  /// received minus its secrets. `received_at` is left to the receiver.
  ozonetel_call_details details;
};

/// Parses the JSON text of the `data` field.
callback_parse parse_callback_json(std::string_view json);

/// Parses a whole form body (application/x-www-form-urlencoded) and takes
/// its `data` field.
callback_parse parse_callback_form(std::string_view form_body);

/// "HH:MM:SS", "MM:SS" or plain seconds; 0 when unreadable.
int64_t parse_hms(std::string_view text);

} // namespace sb::ozonetel
