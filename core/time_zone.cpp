#include "core/time_zone.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

#include "core/error.hpp"

namespace sb {

namespace {

constexpr int32_t hour = 3600;
constexpr int64_t day = 86400;
/// Real TZif files are a few KB; anything far larger is not one.
constexpr size_t max_tzif_bytes = 256 * 1024;

caf::error zone_error(const std::string& name, const std::string& what) {
  return caf::make_error(ec::invalid, "time zone '" + name + "': " + what);
}

/// IANA names: letters, digits, '_', '-', '+', and '/' between parts; no
/// "..", no leading '/' (the name must stay inside the zoneinfo folder).
bool safe_zone_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name.front() == '/'
      || name.back() == '/' || name.find("..") != std::string::npos
      || name.find("//") != std::string::npos)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'
           || c == '+' || c == '/';
  });
}

/// "+05:30", "-04:00", "+0530": seconds east of UTC.
caf::optional<int32_t> fixed_offset(const std::string& s) {
  if (s == "UTC" || s == "GMT" || s == "Z" || s == "Etc/UTC" || s == "Etc/GMT")
    return 0;
  std::string digits;
  if (s.size() == 6 && s[3] == ':')
    digits = s.substr(1, 2) + s.substr(4, 2);
  else if (s.size() == 5)
    digits = s.substr(1);
  else
    return caf::none;
  if ((s[0] != '+' && s[0] != '-')
      || !std::all_of(digits.begin(), digits.end(),
                      [](char c) { return c >= '0' && c <= '9'; }))
    return caf::none;
  int h = std::stoi(digits.substr(0, 2));
  int m = std::stoi(digits.substr(2, 2));
  if (h > 18 || m > 59)
    return caf::none;
  return (s[0] == '-' ? -1 : 1) * (h * hour + m * 60);
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

struct fixed_zone {
  const char* name;
  int32_t offset;
};

// Zones without daylight saving time that CloudAgent accounts use, for a
// system without tzdata (a minimal container): their offset is all we need
// for current dates.
constexpr fixed_zone builtin_zones[] = {
    {"Asia/Kolkata", 19800},   {"Asia/Calcutta", 19800},
    {"Asia/Kathmandu", 20700}, {"Asia/Colombo", 19800},
    {"Asia/Dhaka", 21600},     {"Asia/Karachi", 18000},
    {"Asia/Dubai", 14400},     {"Asia/Riyadh", 10800},
    {"Asia/Qatar", 10800},     {"Asia/Singapore", 28800},
    {"Asia/Kuala_Lumpur", 28800}, {"Asia/Manila", 28800},
    {"Asia/Jakarta", 25200},   {"Asia/Bangkok", 25200},
    {"Asia/Tokyo", 32400},
};

bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// -- POSIX TZ strings ("EST5EDT,M3.2.0,M11.1.0") ------------------------------

struct cursor {
  const std::string& s;
  size_t pos = 0;
  bool done() const {
    return pos >= s.size();
  }
  char peek() const {
    return done() ? '\0' : s[pos];
  }
};

bool read_name(cursor& c) {
  if (c.peek() == '<') {
    auto close = c.s.find('>', c.pos);
    if (close == std::string::npos)
      return false;
    c.pos = close + 1;
    return true;
  }
  auto start = c.pos;
  while (!c.done() && std::isalpha(static_cast<unsigned char>(c.peek())))
    ++c.pos;
  return c.pos - start >= 3;
}

bool read_number(cursor& c, int max, int& out) {
  auto start = c.pos;
  out = 0;
  while (!c.done() && std::isdigit(static_cast<unsigned char>(c.peek()))) {
    out = out * 10 + (c.peek() - '0');
    if (out > max)
      return false;
    ++c.pos;
  }
  return c.pos > start;
}

/// [+-]hh[:mm[:ss]] in seconds; `max_hours` 24 for offsets, 167 for times.
bool read_hms(cursor& c, int max_hours, int32_t& out) {
  int sign = 1;
  if (c.peek() == '+' || c.peek() == '-')
    sign = c.s[c.pos++] == '-' ? -1 : 1;
  int h = 0, m = 0, sec = 0;
  if (!read_number(c, max_hours, h))
    return false;
  if (c.peek() == ':') {
    ++c.pos;
    if (!read_number(c, 59, m))
      return false;
    if (c.peek() == ':') {
      ++c.pos;
      if (!read_number(c, 59, sec))
        return false;
    }
  }
  out = sign * (h * hour + m * 60 + sec);
  return true;
}

bool read_date(cursor& c, time_zone::posix_rule::date& d) {
  using kind = time_zone::posix_rule::date::kind;
  if (c.peek() == 'M') {
    ++c.pos;
    d.k = kind::month_week_day;
    if (!read_number(c, 12, d.month) || d.month < 1 || c.peek() != '.')
      return false;
    ++c.pos;
    if (!read_number(c, 5, d.week) || d.week < 1 || c.peek() != '.')
      return false;
    ++c.pos;
    if (!read_number(c, 6, d.weekday))
      return false;
  } else if (c.peek() == 'J') {
    ++c.pos;
    d.k = kind::julian_no_leap;
    if (!read_number(c, 365, d.day) || d.day < 1)
      return false;
  } else {
    d.k = kind::zero_based;
    if (!read_number(c, 365, d.day))
      return false;
  }
  d.time = 2 * hour;
  if (c.peek() == '/') {
    ++c.pos;
    if (!read_hms(c, 167, d.time))
      return false;
  }
  return true;
}

/// Days since 1970-01-01 of the rule's date in year `y`.
int64_t rule_day(const time_zone::posix_rule::date& d, int64_t y) {
  using kind = time_zone::posix_rule::date::kind;
  auto jan1 = days_from_civil(y, 1, 1);
  switch (d.k) {
    case kind::julian_no_leap:
      // Feb 29 is never counted: day 60 is always March 1.
      return jan1 + d.day - 1 + (leap(y) && d.day >= 60 ? 1 : 0);
    case kind::zero_based:
      return jan1 + d.day;
    case kind::month_week_day:
      break;
  }
  auto first = days_from_civil(y, static_cast<unsigned>(d.month), 1);
  // 1970-01-01 was a Thursday (weekday 4).
  auto first_wday = ((first + 4) % 7 + 7) % 7;
  auto day_of = first + (d.weekday - first_wday + 7) % 7 + (d.week - 1) * 7;
  auto next_month = d.month == 12
                        ? days_from_civil(y + 1, 1, 1)
                        : days_from_civil(y, static_cast<unsigned>(d.month + 1), 1);
  while (day_of >= next_month)
    day_of -= 7; // week 5 = the last one
  return day_of;
}

uint32_t be32(const std::string& b, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 24)
         | (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16)
         | (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8)
         | static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

int64_t be64(const std::string& b, size_t at) {
  return static_cast<int64_t>((static_cast<uint64_t>(be32(b, at)) << 32)
                              | be32(b, at + 4));
}

} // namespace

caf::optional<time_zone::posix_rule>
time_zone::posix_rule::parse(const std::string& text) {
  posix_rule r;
  cursor c{text};
  if (!read_name(c) || !read_hms(c, 24, r.std_offset))
    return caf::none;
  // POSIX offsets count west of UTC ("EST5"): ours count east.
  r.std_offset = -r.std_offset;
  if (c.done())
    return r;
  if (!read_name(c))
    return caf::none;
  r.has_dst = true;
  r.dst_offset = r.std_offset + hour;
  if (!c.done() && c.peek() != ',') {
    if (!read_hms(c, 24, r.dst_offset))
      return caf::none;
    r.dst_offset = -r.dst_offset;
  }
  // Without dates POSIX leaves the rule to the implementation; the US rule
  // is what glibc assumes.
  if (c.done()) {
    r.start = {date::kind::month_week_day, 0, 3, 2, 0, 2 * hour};
    r.end = {date::kind::month_week_day, 0, 11, 1, 0, 2 * hour};
    return r;
  }
  if (c.peek() != ',')
    return caf::none;
  ++c.pos;
  if (!read_date(c, r.start) || c.peek() != ',')
    return caf::none;
  ++c.pos;
  if (!read_date(c, r.end) || !c.done())
    return caf::none;
  return r;
}

int32_t time_zone::posix_rule::offset_at(int64_t utc_seconds) const {
  if (!has_dst)
    return std_offset;
  int64_t y;
  unsigned m, d;
  civil_from_days(floor_div(utc_seconds + std_offset, day), y, m, d);
  // The start is read on standard time, the end on daylight time.
  auto start_at = rule_day(start, y) * day + start.time - std_offset;
  auto end_at = rule_day(end, y) * day + end.time - dst_offset;
  bool in_dst = start_at < end_at
                    ? utc_seconds >= start_at && utc_seconds < end_at
                    // Southern hemisphere: daylight time spans the new year.
                    : !(utc_seconds >= end_at && utc_seconds < start_at);
  return in_dst ? dst_offset : std_offset;
}

caf::expected<std::shared_ptr<const time_zone>>
time_zone::parse_tzif(const std::string& name, const std::string& b) {
  auto bad = [&](const char* what) { return zone_error(name, what); };
  constexpr size_t header = 44;
  if (b.size() < header || b.compare(0, 4, "TZif") != 0)
    return bad("not a TZif file");
  auto counts = [&](size_t at, uint32_t (&n)[6]) {
    for (int i = 0; i < 6; ++i)
      n[i] = be32(b, at + 20 + static_cast<size_t>(i) * 4);
  };
  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt.
  uint32_t n[6];
  counts(0, n);
  auto block = [](const uint32_t (&k)[6], size_t time_size) {
    return k[3] * time_size + k[3] + k[4] * 6 + k[5] + k[2] * (time_size + 4)
           + k[1] + k[0];
  };
  size_t at = header + block(n, 4);
  size_t time_size = 4;
  if (b[4] >= '2') {
    // Version 2+: the 64-bit block after the 32-bit one is the real data.
    if (b.size() < at + header || b.compare(at, 4, "TZif") != 0)
      return bad("truncated TZif file");
    counts(at, n);
    at += header;
    time_size = 8;
  } else {
    at = header;
  }
  if (n[4] == 0 || n[4] > 256 || n[3] > 10000 || b.size() < at + block(n, time_size))
    return bad("malformed TZif counts");
  auto zone = std::make_shared<time_zone>();
  zone->name_ = name;
  auto types_at = at + n[3] * time_size + n[3];
  auto type_offset = [&](size_t i) {
    return static_cast<int32_t>(be32(b, types_at + i * 6));
  };
  zone->initial_offset_ = type_offset(0);
  for (uint32_t i = 0; i < n[3]; ++i) {
    auto when = time_size == 8 ? be64(b, at + i * 8)
                               : static_cast<int32_t>(be32(b, at + i * 4));
    auto idx = static_cast<unsigned char>(b[at + n[3] * time_size + i]);
    if (idx >= n[4])
      return bad("malformed TZif transition");
    zone->transitions_.push_back({when, type_offset(idx)});
  }
  if (time_size == 8) {
    auto footer_at = at + block(n, 8);
    auto close = b.find('\n', footer_at + 1);
    if (footer_at < b.size() && b[footer_at] == '\n' && close != std::string::npos
        && close > footer_at + 1) {
      zone->footer_
          = posix_rule::parse(b.substr(footer_at + 1, close - footer_at - 1));
      if (!zone->footer_)
        return bad("unreadable TZ rule in the TZif footer");
    }
  }
  return std::shared_ptr<const time_zone>{std::move(zone)};
}

std::shared_ptr<const time_zone> time_zone::fixed(int32_t offset_seconds,
                                                  std::string name) {
  auto zone = std::make_shared<time_zone>();
  zone->name_ = std::move(name);
  zone->initial_offset_ = offset_seconds;
  return zone;
}

caf::expected<std::shared_ptr<const time_zone>>
time_zone::load(const std::string& name) {
  if (auto offset = fixed_offset(name))
    return fixed(*offset, name);
  if (!safe_zone_name(name))
    return zone_error(name, "not an offset (+05:30) or an IANA zone name");
  const char* dir = std::getenv("TZDIR");
  std::string path = std::string{dir != nullptr && *dir != '\0'
                                     ? dir
                                     : "/usr/share/zoneinfo"}
                     + "/" + name;
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    for (auto& z : builtin_zones)
      if (name == z.name)
        return fixed(z.offset, name);
  }
  if (!in)
    return zone_error(name, "no such zone in the system's tzdata (" + path
                                + "; Debian package tzdata)");
  std::string bytes;
  bytes.resize(max_tzif_bytes + 1);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));
  if (bytes.size() > max_tzif_bytes)
    return zone_error(name, "file too large for a TZif file");
  return parse_tzif(name, bytes);
}

caf::expected<std::shared_ptr<const time_zone>>
time_zone::get(const std::string& name) {
  static std::mutex mtx;
  static std::map<std::string, std::shared_ptr<const time_zone>> zones;
  std::lock_guard<std::mutex> guard{mtx};
  if (auto i = zones.find(name); i != zones.end())
    return i->second;
  auto zone = load(name);
  // Only good zones are kept: a bad name costs a file lookup each time, but
  // cannot grow the cache.
  if (zone)
    zones.emplace(name, *zone);
  return zone;
}

int32_t time_zone::offset_at(int64_t utc_seconds) const {
  if (transitions_.empty() || utc_seconds < transitions_.front().at)
    return transitions_.empty() && footer_ ? footer_->offset_at(utc_seconds)
                                           : initial_offset_;
  if (footer_ && utc_seconds >= transitions_.back().at)
    return footer_->offset_at(utc_seconds);
  auto after = std::upper_bound(
      transitions_.begin(), transitions_.end(), utc_seconds,
      [](int64_t t, const transition& x) { return t < x.at; });
  return std::prev(after)->offset;
}

int64_t time_zone::to_utc(int64_t local_seconds) const {
  // The offsets a day either side bracket any one change (zones change at
  // most once within two days).
  auto before = offset_at(local_seconds - day);
  auto after = offset_at(local_seconds + day);
  auto valid = [&](int32_t offset) {
    return offset_at(local_seconds - offset) == offset;
  };
  if (valid(before))
    return local_seconds - before; // also the first pass of a repeated hour
  if (valid(after))
    return local_seconds - after;
  return local_seconds - before; // skipped: moved on by the gap
}

caf::optional<unix_micros> parse_local_time(const std::string& text,
                                            const time_zone& zone) {
  if (text.size() < 19)
    return caf::none;
  auto local = parse_iso8601(text.substr(0, 19) + "Z");
  if (!local)
    return caf::none;
  auto secs = floor_div(*local, 1000000);
  return zone.to_utc(secs) * 1000000 + (*local - secs * 1000000);
}

} // namespace sb
