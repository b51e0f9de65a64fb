// ISO-8601 timestamps as the API takes them: any text is refused or gives a
// time whose canonical UTC spelling (second resolution) parses back to the
// same second, and spells the same again.

#include <string>

#include "core/time.hpp"
#include "fuzz/fuzz.hpp"

namespace {

sb::unix_micros floor_to_second(sb::unix_micros t) {
  auto rem = t % 1000000;
  return rem < 0 ? t - rem - 1000000 : t - rem;
}

} // namespace

SB_FUZZ_TARGET(input) {
  auto parsed = sb::parse_iso8601(std::string{input});
  if (!parsed)
    return;
  auto canonical = sb::iso8601_utc(*parsed);
  auto again = sb::parse_iso8601(canonical);
  sb::fuzz::require(again && *again == floor_to_second(*parsed),
                    "a parsed time does not survive its canonical spelling");
  sb::fuzz::require(sb::iso8601_utc(*again) == canonical,
                    "the canonical spelling is not stable");
}
