#pragma once

// Time helpers shared by every area that stamps or reads a time: the clock in
// unix micros and Howard Hinnant's civil-calendar conversions (proleptic
// Gregorian, UTC), ISO-8601 formatting and parsing.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/optional.hpp>

namespace sb {
/// Microseconds since 1970-01-01T00:00:00Z.
using unix_micros = int64_t;
} // namespace sb

namespace sb {

/// The wall clock in unix micros.
inline unix_micros now_micros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch())
      .count();
}

/// A wall clock as actors take it: the real one in production, one the test
/// moves by hand in deterministic tests.
using wall_clock = std::function<unix_micros()>;

/// The real wall clock.
inline wall_clock system_wall_clock() {
  return [] { return now_micros(); };
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
inline int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
inline void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

/// Formats unix micros as UTC ISO-8601 with a `Z` (second resolution).
std::string iso8601_utc(unix_micros t);

/// Parses ISO-8601 (`2026-11-21T22:09:58Z`, with offset, fractional seconds,
/// or a space instead of T) to unix micros; none when malformed or when the
/// UTC time falls outside the years 0001..9999. A date alone means midnight
/// UTC; no offset means UTC.
caf::optional<unix_micros> parse_iso8601(const std::string& text);

} // namespace sb
