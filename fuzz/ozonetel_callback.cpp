// CloudAgent's call-details callback, as JSON and as a form: refused or
// parsed, never a crash; a parsed payload keeps no secret, its numbers are
// sane, and its text is valid UTF-8.

#include <string>

#include "adapters/ozonetel/answer.hpp"
#include "adapters/ozonetel/callback.hpp"
#include "adapters/ozonetel/json_guard.hpp"
#include "core/utf8.hpp"
#include "fuzz/fuzz.hpp"

namespace {

void check(const sb::ozonetel::callback_parse& parsed) {
  if (!parsed.ok) {
    sb::fuzz::require(!parsed.error.empty(), "refused without a reason");
    return;
  }
  const auto& details = parsed.details;
  sb::fuzz::require(sb::valid_utf8(details.sanitized_json),
                    "sanitized payload is not UTF-8");
  rapidjson::Document doc;
  sb::fuzz::require(
    sb::ozonetel::parse_untrusted_json(doc, details.sanitized_json).empty(),
    "the sanitized payload does not parse back");
  sb::ozonetel::for_each_value(doc, [](rapidjson::Value& value) {
    if (!value.IsObject())
      return;
    for (const auto& member : value.GetObject()) {
      std::string_view key{member.name.GetString(),
                           member.name.GetStringLength()};
      sb::fuzz::require(!sb::ozonetel::is_secret_key(key),
                        "a secret survived sanitizing");
    }
  });
  sb::fuzz::require(details.duration_seconds >= 0, "negative duration");
}

} // namespace

SB_FUZZ_TARGET(input) {
  check(sb::ozonetel::parse_callback_json(input));
  check(sb::ozonetel::parse_callback_form(input));
  sb::fuzz::require(sb::ozonetel::parse_hms(input) >= 0, "negative h:m:s");
}
