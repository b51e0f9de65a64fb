#pragma once

// Calls as they leave the trackers (AMI call_tracker, Ozonetel ucid_calls) and
// travel through the customer matcher to the comms-log writer.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include "core/enum_names.hpp"
#include "core/time.hpp"

namespace sb {

enum class call_direction : uint8_t { inbound, outbound, internal };

enum class call_disposition : uint8_t { answered, no_answer, busy, failed };

inline const char* to_string(call_direction x) noexcept {
  switch (x) {
    case call_direction::inbound:
      return "inbound";
    case call_direction::outbound:
      return "outbound";
    default:
      return "internal";
  }
}

inline const char* to_string(call_disposition x) noexcept {
  switch (x) {
    case call_disposition::answered:
      return "answered";
    case call_disposition::no_answer:
      return "no_answer";
    case call_disposition::busy:
      return "busy";
    default:
      return "failed";
  }
}

inline bool from_string(std::string_view s, call_direction& x) noexcept {
  if (s == "inbound")
    x = call_direction::inbound;
  else if (s == "outbound")
    x = call_direction::outbound;
  else if (s == "internal")
    x = call_direction::internal;
  else
    return false;
  return true;
}

inline bool from_string(std::string_view s, call_disposition& x) noexcept {
  if (s == "answered")
    x = call_disposition::answered;
  else if (s == "no_answer")
    x = call_disposition::no_answer;
  else if (s == "busy")
    x = call_disposition::busy;
  else if (s == "failed")
    x = call_disposition::failed;
  else
    return false;
  return true;
}

/// Microseconds since the Unix epoch, UTC. 0 means "never" (e.g. unanswered).

/// One finished call, from whichever source saw it (the fields as
/// docs/architecture.md "Call records" defines them: duration_seconds =
/// first ring to last hang-up over every leg; billsec as Asterisk bills it;
/// talk_seconds = outside party connected to a person).
struct completed_call {
  /// "ami" or "ozonetel" (manual entries never pass through the pipeline).
  std::string source;
  /// Idempotency key within the source: the Linkedid (AMI) or the UCID.
  std::string ext_message_id;
  /// PBX config name (AMI) or the CloudAgent account (Ozonetel).
  std::string origin;
  call_direction direction = call_direction::inbound;
  /// The outside party as the PBX presented it (not normalized); empty for
  /// internal calls.
  std::string external_number;
  /// Inbound: the first phone connected to the caller (unanswered: the one
  /// phone that rang); outbound and internal: the phone that placed the call
  /// (docs/architecture.md "Call records").
  std::string extension;
  /// Internal calls: the called extension.
  std::string peer_extension;
  /// Inbound: the DID called, when known.
  std::string did;
  call_disposition disposition = call_disposition::no_answer;
  unix_micros started_at = 0;
  unix_micros answered_at = 0;
  unix_micros ended_at = 0;
  int64_t duration_seconds = 0;
  int64_t billsec = 0;
  int64_t talk_seconds = 0;
  /// Ozonetel's unique call id, when the call has one.
  std::string ucid;
  /// Free text appended to the body (agent notes, disposition name, ...).
  std::string notes;
  /// The call was finalized without its last Hangup (connection lost, PBX
  /// restarted): times are the best known, not exact.
  bool incomplete = false;
  /// The CRM's own reference for the entry (Ozonetel: the seed's leadId).
  std::string crm_ref;
  /// The call's recording (Ozonetel: the callback's AudioFile).
  std::string recording;
  /// "cdr" when rebuilt from the PBX's CDR database, else "".
  std::string recovered;
  /// The recording's URL by pbx.<name>.recording_url (a PBX recording:
  /// MIXMONITOR_FILENAME, the CDR's recordingfile); empty without one.
  std::string recording_url;
  /// Rebuilt from the CDR for a call whose stream had a gap: replaces the
  /// stored entry's figures (else only an incomplete entry's).
  bool supersedes = false;
  /// The click-to-call request (POST /api/calls/originate) that placed the
  /// call; empty for every other call.
  std::string request_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, completed_call& x) {
  return f(caf::meta::type_name("completed_call"), x.source, x.ext_message_id,
           x.origin, x.direction, x.external_number, x.extension,
           x.peer_extension, x.did, x.disposition, x.started_at, x.answered_at,
           x.ended_at, x.duration_seconds, x.billsec, x.talk_seconds, x.ucid,
           x.notes, x.incomplete, x.crm_ref, x.recording, x.recovered,
           x.recording_url, x.supersedes, x.request_id);
}

/// A completed call with its customer (none when no customer has that number).
struct matched_call {
  completed_call call;
  caf::optional<int64_t> customer_id;
  /// The outside number in E.164, empty when it does not parse (anonymous,
  /// extensions, garbage).
  std::string external_e164;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, matched_call& x) {
  return f(caf::meta::type_name("matched_call"), x.call, x.customer_id,
           x.external_e164);
}

/// A stretch of a PBX's stream that switchboard never saw (connection down,
/// switchboard stopped), to catch up on from the PBX's CDR database. Times
/// are the PBX's clock (the events' Timestamp), UTC microseconds.
struct cdr_gap {
  std::string pbx;
  /// The last event seen before the loss; 0 = start-up (catch up from the
  /// last call logged from this PBX) or a stream without Timestamp.
  unix_micros from = 0;
  /// The re-sync after it; 0 = unknown (the CDR's own latest time is used).
  unix_micros to = 0;
  /// Linkedids still up at the re-sync: they end as ordinary calls.
  std::vector<std::string> live;
  /// 0 = from `from`; 1 = from the last call logged from this PBX.
  bool startup = false;
  /// Set: the gap of this one call (re-attached across a gap or joined
  /// mid-way), whose CDR figures replace what the stream showed.
  std::string linkedid;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cdr_gap& x) {
  return f(caf::meta::type_name("cdr_gap"), x.pbx, x.from, x.to, x.live,
           x.startup, x.linkedid);
}

/// A call in progress, for GET /api/calls/active.
/// Where a call in progress is.
enum class live_call_state : uint8_t {
  /// CloudAgent is placing it (click-to-call), nobody rings yet.
  dialing,
  ringing,
  answered,
  /// Hung up; the tracker waits for its trailing Cdr events.
  ending,
};

inline constexpr const char* live_call_state_names[]
    = {"dialing", "ringing", "answered", "ending"};

inline const char* to_string(live_call_state x) noexcept {
  return enum_name(live_call_state_names, x);
}

inline bool from_string(std::string_view s, live_call_state& x) noexcept {
  return enum_from_name(live_call_state_names, s, x);
}

struct live_call {
  std::string source;
  std::string id;
  std::string origin;
  call_direction direction = call_direction::inbound;
  live_call_state state = live_call_state::ringing;
  std::string external_number;
  std::string extension;
  unix_micros started_at = 0;
  unix_micros answered_at = 0;
  /// The customer with the outside number (the customer matcher's index),
  /// none when nobody has it or not yet looked up.
  caf::optional<int64_t> customer_id;
  std::string customer_name;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, live_call& x) {
  return f(caf::meta::type_name("live_call"), x.source, x.id, x.origin,
           x.direction, x.state, x.external_number, x.extension, x.started_at,
           x.answered_at, x.customer_id, x.customer_name);
}

} // namespace sb
