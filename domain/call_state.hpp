#pragma once

// What the call correlator keeps per live call: a few short strings, one
// small record per channel and per CDR row (no copies of events), so memory
// per call stays bounded whatever the PBX sends. Read by the correlator
// (domain/call_correlator.cpp) while events arrive and by the call-record
// rules (domain/call_summary.cpp) when the call ends.

#include <cstdint>
#include <string>
#include <vector>

#include "core/time.hpp"

namespace sb {

enum class channel_kind : uint8_t { unknown, phone, trunk, local };

/// Outcome of a Dial towards a channel (DialEnd DialStatus) or of a CDR row
/// (disposition).
enum class dial_outcome : uint8_t { none, answer, no_answer, busy, failed };

struct channel_record {
  std::string uniqueid;
  /// Extension (phone endpoint or Local exten) taken from the channel name;
  /// empty for trunks.
  std::string endpoint;
  /// Local channels: the other half of the pair (`;1` <-> `;2`), which
  /// carries the audio on to its own bridge. Empty until both are seen.
  std::string partner;
  /// The bridge the channel is in (BridgeUniqueid), empty when none.
  std::string bridge;
  /// Hash of the channel name: CDR rows name their parties by channel name
  /// only (party B has no uniqueid at all).
  uint64_t name_hash = 0;
  /// Call-clock times; 0 = not seen.
  unix_micros up_at = 0;
  unix_micros answered_at = 0; // a Dial to it was answered
  unix_micros hangup_at = 0;
  channel_kind kind = channel_kind::unknown;
  dial_outcome outcome = dial_outcome::none;
  /// 1-based order of the DialBegin towards it; 0 = never dialled.
  uint8_t dial_order = 0;
  /// Local channels: 1 or 2 (the `;1` / `;2` suffix).
  uint8_t local_half = 0;
  bool hung_up = false;
  bool answered = false;
  /// Between Hold and Unhold: a phone holding the call is not talking.
  bool held = false;
};

/// One CDR row (Event: Cdr) of the call. The parties are described as the
/// stream showed them when the row arrived (a row is written when its
/// segment ends, so by then party B's answer is known).
struct cdr_row {
  unix_micros start = 0;
  unix_micros answer = 0;
  unix_micros end = 0;
  int32_t billsec = 0;
  dial_outcome disposition = dial_outcome::none;
  channel_kind party_a = channel_kind::unknown;
  /// unknown also when the row has no party B or it is not in the call.
  channel_kind party_b = channel_kind::unknown;
  /// Party B's channel really reached Up (a picked-up phone's row can say
  /// ANSWERED although it only rang).
  bool party_b_up = false;
  /// Party A is the call's originating channel (UniqueID = Linkedid).
  bool from_orig = false;
};

struct call_record {
  /// The originating channel as Newchannel showed it: CallerIDNum before
  /// any NewCallerid rewrite, and Exten (the DID inbound, the dialled
  /// number outbound / internal).
  std::string orig_caller;
  std::string orig_exten;
  /// The number a trunk leg was dialled with (DestCallerIDNum /
  /// DialString), the fallback outside number of outbound calls.
  std::string trunk_number;
  /// Click-to-call (AMI Originate): the originated channel's name and the
  /// number the Originate asked for (OriginateResponse Exten).
  std::string originate_channel;
  std::string originate_exten;
  /// Our click-to-call request (the OriginateResponse's ActionID when it is
  /// one of ours, messages/originate.hpp); empty otherwise.
  std::string request_id;
  /// The first phone that was connected to the outside party.
  std::string first_person;
  /// The recording MixMonitor writes (MIXMONITOR_FILENAME), file name only.
  std::string recording;
  std::vector<channel_record> channels;
  std::vector<cdr_row> cdr;
  /// Name hashes of the phones connected to the outside party (capped).
  std::vector<uint64_t> talked_to;
  /// Call clock: first event, last event, last Hangup.
  unix_micros first_at = 0;
  unix_micros last_at = 0;
  unix_micros end_at = 0;
  /// Call clock: the outside party connected to a person (talk), summed
  /// over closed stretches, and the start of the open one (0 = none).
  unix_micros talk = 0;
  unix_micros connected_since = 0;
  unix_micros first_connected_at = 0;
  /// Arrival clock.
  unix_micros first_received = 0;
  unix_micros closing_due = 0; // finalize after this once all hung up
  unix_micros orphaned_at = 0; // its connection dropped (0 = not)
  int16_t orig_cause = -1;
  int8_t orig = -1; // index of the originating channel, -1 = unseen
  uint8_t dials = 0;
  dial_outcome originate_outcome = dial_outcome::none;
  bool partial = false;     // its start was not seen
  bool dialled_out = false; // a Dial ran in an outbound context
  bool closing = false;
  bool originated = false; // placed by an AMI Originate
  bool ever_connected = false;
  bool ever_held = false;
  /// Live when its PBX connection dropped: the re-sync after the next login
  /// (CoreShowChannels) tells which of its channels are still up.
  bool before_loss = false;
  /// A call.ringing notice was given (outbound: once; inbound: per phone).
  bool ring_noticed = false;
  /// The phone the last answered / transferred notice named.
  std::string noticed_person;
  /// Re-attached at a re-sync: what happened during the gap is only in the
  /// PBX's CDR.
  bool spanned_gap = false;
};

} // namespace sb
