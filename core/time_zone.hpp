#pragma once

// Time zones for the local times CloudAgent sends (the callback's StartTime
// / EndTime, its events' event_time): a fixed offset, or an IANA zone read
// from the system's tzdata (TZif files under $TZDIR, else
// /usr/share/zoneinfo), daylight saving time included. A zone is read once
// and never changes afterwards, so one object serves every thread; nothing
// here touches the C library's TZ state (localtime_r / mktime with TZ are
// not thread safe).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/optional.hpp>

#include "core/time.hpp"

namespace sb {

class time_zone {
public:
  /// How to read a local time the clocks skip or repeat: with the offset in
  /// force just before the change. A skipped time (02:30 on the day New York
  /// springs forward) is moved on by the gap (03:30 EDT, 07:30 UTC); a
  /// repeated one (01:30 on the day it falls back) is its first pass, still
  /// on daylight time (01:30 EDT, 05:30 UTC).
  static constexpr const char* rule
      = "a skipped local time is moved on by the gap, a repeated one is its "
        "first pass (both read with the offset in force before the change)";

  /// "+05:30" / "-04:00" / "UTC" / "GMT" / "Z", or an IANA name
  /// (Asia/Kolkata, America/New_York, Europe/London). Error when the name
  /// is not a safe zone name or its file is missing or unreadable.
  static caf::expected<std::shared_ptr<const time_zone>>
  load(const std::string& name);

  /// load(), cached for the process (thread safe).
  static caf::expected<std::shared_ptr<const time_zone>>
  get(const std::string& name);

  /// A zone with one offset forever.
  static std::shared_ptr<const time_zone> fixed(int32_t offset_seconds,
                                                std::string name);

  /// The UTC offset in seconds at `utc_seconds`.
  int32_t offset_at(int64_t utc_seconds) const;

  /// A local wall time (seconds since 1970-01-01 00:00 local) as UTC
  /// seconds; skipped and repeated times as `rule` says.
  int64_t to_utc(int64_t local_seconds) const;

  const std::string& name() const noexcept {
    return name_;
  }

  /// The POSIX TZ rule used after the last transition of the file (its
  /// footer); public for tests.
  struct posix_rule {
    /// How a rule names a day of the year.
    struct date {
      enum class kind : uint8_t { julian_no_leap, zero_based, month_week_day };
      kind k = kind::month_week_day;
      int day = 0; // Jn (1..365) or n (0..365)
      int month = 0, week = 0, weekday = 0; // Mm.w.d
      int32_t time = 7200; // seconds after local midnight (may be < 0, > 24h)
    };
    int32_t std_offset = 0; // seconds east of UTC
    bool has_dst = false;
    int32_t dst_offset = 0;
    date start, end;

    /// None when `text` is not a POSIX TZ string.
    static caf::optional<posix_rule> parse(const std::string& text);
    int32_t offset_at(int64_t utc_seconds) const;
  };

private:
  struct transition {
    int64_t at; // UTC seconds
    int32_t offset;
  };

  std::string name_;
  /// Offset before the first transition.
  int32_t initial_offset_ = 0;
  std::vector<transition> transitions_;
  caf::optional<posix_rule> footer_;

  static caf::expected<std::shared_ptr<const time_zone>>
  parse_tzif(const std::string& name, const std::string& bytes);
};

/// "YYYY-MM-DD HH:MM:SS" (anything after the seconds is ignored) read as a
/// local time in `zone`; none when empty or malformed.
caf::optional<unix_micros> parse_local_time(const std::string& text,
                                            const time_zone& zone);

} // namespace sb
