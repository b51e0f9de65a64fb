#pragma once

// Reading AMI events for the call correlator: the fields it uses, found in
// one pass over the frame, and the value formats Asterisk writes (Timestamp,
// CDR times, channel names, dial strings).

#include <cstdint>
#include <string_view>

#include "core/time.hpp"
#include "messages/ami_event.hpp"

namespace sb::ami_fields {

constexpr unix_micros micros_per_second = 1'000'000;

/// The fields the correlator reads. Views into the event's text: valid as
/// long as the event is.
struct event_fields {
  std::string_view event;
  std::string_view channel;  // also party A of a Cdr
  std::string_view uniqueid; // `Uniqueid`, and `UniqueID` of Cdr
  std::string_view linkedid;
  std::string_view context;
  std::string_view exten;
  std::string_view caller_id_num;
  std::string_view channel_state;
  std::string_view timestamp;
  std::string_view dest_channel;
  std::string_view dest_uniqueid;
  std::string_view dest_linkedid;
  std::string_view dest_caller_id_num;
  std::string_view dial_string;
  std::string_view dial_status;
  std::string_view cause;
  std::string_view bridge;      // BridgeUniqueid, CoreShowChannel BridgeId
  std::string_view duration;    // CoreShowChannel, HH:MM:SS
  std::string_view to_bridge;   // BridgeMerge
  std::string_view from_bridge; // BridgeMerge
  std::string_view response;    // OriginateResponse
  std::string_view reason;      // OriginateResponse
  std::string_view action_id;   // OriginateResponse
  std::string_view destination_channel; // Cdr
  std::string_view start_time;          // Cdr
  std::string_view answer_time;         // Cdr
  std::string_view end_time;            // Cdr
  std::string_view billable_seconds;    // Cdr
  std::string_view disposition;         // Cdr

  explicit event_fields(const ami_event& e);
};

/// Decimal integer; `fallback` when empty or not a number.
int64_t parse_int(std::string_view s, int64_t fallback);

/// `Timestamp: 1795298998.811647` (seconds.microseconds); 0 when malformed.
unix_micros parse_timestamp(std::string_view s);

/// Cdr `StartTime` / `AnswerTime` / `EndTime`: "YYYY-MM-DD HH:MM:SS" in the
/// PBX's local time, read as UTC (the PBX's zone is not on the wire). 0 when
/// empty or malformed.
unix_micros parse_cdr_time(std::string_view s);

/// Asterisk writes "<unknown>" where a caller ID is absent.
std::string_view clean_number(std::string_view s);

/// The extension in a channel name: `PJSIP/1001-0000000d` -> 1001,
/// `Local/1001@from-queue-0000000a;1` -> 1001. The hex suffix is a counter
/// with no meaning.
std::string_view endpoint_of(std::string_view channel_name);

/// 1 or 2 for the halves of a Local channel pair, 0 for other channels.
uint8_t local_half(std::string_view channel_name);

/// The number in a DialString: `07700900456@trunk-pstn` or
/// `trunk/07700900456` -> 07700900456.
std::string_view number_of_dial_string(std::string_view s);

/// A number that is no extension or feature code: `+` and digits, or at
/// least seven digits (extensions, ring groups, parking spaces and feature
/// codes are shorter or contain `*` / `#`).
bool looks_external(std::string_view number);

/// CoreShowChannel `Duration` (HH:MM:SS) in seconds; -1 when malformed.
int64_t parse_hms(std::string_view s);

/// Stable hash of a channel name (FNV-1a): CDR rows name their parties by
/// channel name.
uint64_t name_hash(std::string_view name) noexcept;

} // namespace sb::ami_fields
