#include "domain/ami_fields.hpp"

#include "core/strings.hpp"

namespace sb::ami_fields {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// The slot of key `k` (any case), nullptr for keys the correlator ignores.
/// Switching on the length first keeps this to one or two compares a key.
std::string_view* slot_for(event_fields& f, std::string_view k,
                           bool& seen_uniqueid) {
  switch (k.size()) {
    case 6:
      if (iequals(k, "Reason")) // OriginateResponse
        return &f.reason;
      return nullptr;
    case 5:
      if (iequals(k, "Event"))
        return &f.event;
      if (iequals(k, "Exten"))
        return &f.exten;
      if (iequals(k, "Cause"))
        return &f.cause;
      return nullptr;
    case 7:
      if (iequals(k, "Channel"))
        return &f.channel;
      if (iequals(k, "Context"))
        return &f.context;
      if (iequals(k, "EndTime"))
        return &f.end_time;
      return nullptr;
    case 8:
      if (iequals(k, "Uniqueid")) {
        // Some events repeat Uniqueid for a second channel: the first one
        // is the event's own channel.
        if (seen_uniqueid)
          return nullptr;
        seen_uniqueid = true;
        return &f.uniqueid;
      }
      if (iequals(k, "Linkedid"))
        return &f.linkedid;
      if (iequals(k, "Response"))
        return &f.response;
      if (iequals(k, "BridgeId")) // CoreShowChannel
        return &f.bridge;
      if (iequals(k, "Duration"))
        return &f.duration;
      if (iequals(k, "ActionID")) // OriginateResponse
        return &f.action_id;
      return nullptr;
    case 9:
      if (iequals(k, "Timestamp"))
        return &f.timestamp;
      if (iequals(k, "StartTime"))
        return &f.start_time;
      return nullptr;
    case 10:
      if (iequals(k, "DialStatus"))
        return &f.dial_status;
      if (iequals(k, "DialString"))
        return &f.dial_string;
      if (iequals(k, "AnswerTime"))
        return &f.answer_time;
      return nullptr;
    case 11:
      if (iequals(k, "CallerIDNum"))
        return &f.caller_id_num;
      if (iequals(k, "DestChannel"))
        return &f.dest_channel;
      if (iequals(k, "Disposition"))
        return &f.disposition;
      return nullptr;
    case 12:
      if (iequals(k, "ChannelState"))
        return &f.channel_state;
      if (iequals(k, "DestUniqueid"))
        return &f.dest_uniqueid;
      if (iequals(k, "DestLinkedid"))
        return &f.dest_linkedid;
      return nullptr;
    case 14:
      if (iequals(k, "BridgeUniqueid"))
        return &f.bridge;
      return nullptr;
    case 15:
      if (iequals(k, "DestCallerIDNum"))
        return &f.dest_caller_id_num;
      if (iequals(k, "BillableSeconds"))
        return &f.billable_seconds;
      return nullptr;
    case 16:
      if (iequals(k, "ToBridgeUniqueid"))
        return &f.to_bridge;
      return nullptr;
    case 18:
      if (iequals(k, "DestinationChannel"))
        return &f.destination_channel;
      if (iequals(k, "FromBridgeUniqueid"))
        return &f.from_bridge;
      return nullptr;
    default:
      return nullptr;
  }
}

} // namespace

event_fields::event_fields(const ami_event& e) {
  bool seen_uniqueid = false;
  for (size_t i = 0; i < e.size(); ++i) {
    auto* slot = slot_for(*this, e.key(i), seen_uniqueid);
    // First occurrence wins (a repeated key is not part of these events'
    // layout, but a PBX module could add one).
    if (slot != nullptr && slot->data() == nullptr)
      *slot = e.value(i);
  }
}

int64_t parse_int(std::string_view s, int64_t fallback) {
  if (s.empty())
    return fallback;
  bool negative = s[0] == '-';
  size_t i = negative ? 1 : 0;
  if (i == s.size() || s.size() - i > 18)
    return fallback;
  int64_t value = 0;
  for (; i < s.size(); ++i) {
    if (!is_digit(s[i]))
      return fallback;
    value = value * 10 + (s[i] - '0');
  }
  return negative ? -value : value;
}

unix_micros parse_timestamp(std::string_view s) {
  unix_micros seconds = 0;
  size_t i = 0;
  for (; i < s.size() && i < 12 && is_digit(s[i]); ++i)
    seconds = seconds * 10 + (s[i] - '0');
  if (i == 0)
    return 0;
  unix_micros fraction = 0;
  int digits = 0;
  if (i < s.size() && s[i] == '.')
    for (++i; i < s.size() && is_digit(s[i]); ++i)
      if (digits < 6) {
        fraction = fraction * 10 + (s[i] - '0');
        ++digits;
      }
  for (; digits < 6; ++digits)
    fraction *= 10;
  return seconds * micros_per_second + fraction;
}

unix_micros parse_cdr_time(std::string_view s) {
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || s[13] != ':'
      || s[16] != ':')
    return 0;
  auto num = [&](size_t pos, size_t len) {
    return parse_int(s.substr(pos, len), -1);
  };
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2),
       mi = num(14, 2), sec = num(17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0
      || mi > 59 || sec < 0 || sec > 60)
    return 0;
  auto days
      = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return (((days * 24 + h) * 60 + mi) * 60 + sec) * micros_per_second;
}

std::string_view clean_number(std::string_view s) {
  return s == "<unknown>" ? std::string_view{} : s;
}

std::string_view endpoint_of(std::string_view name) {
  auto slash = name.find('/');
  auto rest = slash == std::string_view::npos ? name : name.substr(slash + 1);
  if (starts_with(name, "Local/"))
    return rest.substr(0, rest.find('@'));
  auto dash = rest.rfind('-');
  return dash == std::string_view::npos ? rest : rest.substr(0, dash);
}

uint8_t local_half(std::string_view name) {
  if (!starts_with(name, "Local/") || name.size() < 2
      || name[name.size() - 2] != ';')
    return 0;
  auto c = name.back();
  return c == '1' ? 1 : c == '2' ? 2 : 0;
}

std::string_view number_of_dial_string(std::string_view s) {
  s = s.substr(0, s.find('@'));
  auto slash = s.rfind('/');
  if (slash != std::string_view::npos)
    s = s.substr(slash + 1);
  return s;
}

bool looks_external(std::string_view number) {
  bool plus = !number.empty() && number.front() == '+';
  if (plus)
    number.remove_prefix(1);
  if (number.empty())
    return false;
  for (char c : number)
    if (!is_digit(c))
      return false;
  return plus || number.size() >= 7;
}

int64_t parse_hms(std::string_view s) {
  // HH:MM:SS, hours may have more digits.
  auto c2 = s.rfind(':');
  if (c2 == std::string_view::npos || c2 == 0)
    return -1;
  auto c1 = s.rfind(':', c2 - 1);
  if (c1 == std::string_view::npos)
    return -1;
  auto h = parse_int(s.substr(0, c1), -1);
  auto m = parse_int(s.substr(c1 + 1, c2 - c1 - 1), -1);
  auto sec = parse_int(s.substr(c2 + 1), -1);
  if (h < 0 || m < 0 || m > 59 || sec < 0 || sec > 59)
    return -1;
  return (h * 60 + m) * 60 + sec;
}

uint64_t name_hash(std::string_view name) noexcept {
  uint64_t h = 14695981039346656037ULL;
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h == 0 ? 1 : h;
}

} // namespace sb::ami_fields
