#pragma once

#include <string>
#include <string_view>

namespace sb::phone {

/// Turns phone numbers as people and PBXes write them into E.164 with
/// libphonenumber, so `+44 20 7946 0123`, `0044 20 7946 0123` and
/// `020 7946 0123` (region GB) are one number. Thread-safe.
class normalizer {
public:
  /// `default_region`: ISO 3166 alpha-2 (e.g. "GB") for numbers written
  /// without a country code.
  explicit normalizer(std::string default_region);

  /// E.164 (`+442079460123`), or empty when `raw` is not a dialable outside
  /// number: anonymous / withheld / unavailable, extensions, garbage.
  std::string to_e164(std::string_view raw) const;

  const std::string& default_region() const noexcept {
    return region_;
  }

private:
  std::string region_;
};

} // namespace sb::phone
