#include "core/time.hpp"

#include <cctype>
#include <cstdio>
#include <string>

namespace sb {

namespace {

bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned days[]
      = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Reads exactly `n` digits at `pos`.
bool read_digits(const std::string& s, size_t& pos, size_t n, unsigned& out) {
  if (pos + n > s.size())
    return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9')
      return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  pos += n;
  return true;
}

} // namespace

std::string iso8601_utc(unix_micros t) {
  int64_t secs = t >= 0 ? t / 1000000 : -((-t + 999999) / 1000000);
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  if (y < 0 || y > 9999) {
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02d:%02d:%02dZ",
                  static_cast<long long>(y), m, d, static_cast<int>(rem / 3600),
                  static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
    return buf;
  }
  // Formatted by hand: this runs once per row written.
  std::string out = "0000-00-00T00:00:00Z";
  auto put2 = [&out](size_t pos, unsigned v) {
    out[pos] = static_cast<char>('0' + v / 10);
    out[pos + 1] = static_cast<char>('0' + v % 10);
  };
  auto year = static_cast<unsigned>(y);
  put2(0, year / 100);
  put2(2, year % 100);
  put2(5, m);
  put2(8, d);
  put2(11, static_cast<unsigned>(rem / 3600));
  put2(14, static_cast<unsigned>(rem / 60 % 60));
  put2(17, static_cast<unsigned>(rem % 60));
  return out;
}

caf::optional<unix_micros> parse_iso8601(const std::string& raw) {
  auto first = raw.find_first_not_of(" \t");
  auto last = raw.find_last_not_of(" \t");
  if (first == std::string::npos)
    return caf::none;
  std::string s = raw.substr(first, last - first + 1);
  size_t pos = 0;
  unsigned year, month, day;
  if (!read_digits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-'
      || !read_digits(s, pos, 2, month) || pos >= s.size() || s[pos++] != '-'
      || !read_digits(s, pos, 2, day))
    return caf::none;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
    return caf::none;
  unsigned hour = 0, minute = 0, second = 0;
  int64_t frac_micros = 0;
  int64_t offset_seconds = 0;
  if (pos < s.size()) {
    char sep = s[pos++];
    if (sep != 'T' && sep != 't' && sep != ' ')
      return caf::none;
    if (!read_digits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':'
        || !read_digits(s, pos, 2, minute))
      return caf::none;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!read_digits(s, pos, 2, second))
        return caf::none;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        int64_t scale = 100000;
        size_t digits = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          frac_micros += (s[pos] - '0') * scale;
          scale /= 10;
          ++pos;
          ++digits;
        }
        if (digits == 0)
          return caf::none;
      }
    }
    if (hour > 23 || minute > 59 || second > 59)
      return caf::none;
    if (pos < s.size()) {
      char zone = s[pos++];
      if (zone == 'Z' || zone == 'z') {
        // UTC
      } else if (zone == '+' || zone == '-') {
        unsigned oh = 0, om = 0;
        if (!read_digits(s, pos, 2, oh))
          return caf::none;
        if (pos < s.size() && s[pos] == ':')
          ++pos;
        if (pos < s.size() && !read_digits(s, pos, 2, om))
          return caf::none;
        if (oh > 23 || om > 59)
          return caf::none;
        offset_seconds = (zone == '+' ? 1 : -1)
                         * static_cast<int64_t>(oh * 3600 + om * 60);
      } else {
        return caf::none;
      }
    }
    if (pos != s.size())
      return caf::none;
  }
  int64_t secs = days_from_civil(year, month, day) * 86400
                 + static_cast<int64_t>(hour) * 3600 + minute * 60 + second
                 - offset_seconds;
  // Years 0001..9999 once the offset is applied (9999-12-31T23:30-01:00 is
  // in year 10000): what iso8601_utc writes back in four digits and what
  // every database accepts, so a bad time is refused here and not by the
  // database later.
  static const int64_t first_second = days_from_civil(1, 1, 1) * 86400;
  static const int64_t after_last = days_from_civil(10000, 1, 1) * 86400;
  if (secs < first_second || secs >= after_last)
    return caf::none;
  return secs * 1000000 + frac_micros;
}

} // namespace sb
