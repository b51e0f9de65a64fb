#pragma once

// The call tracker's logic without an actor around it: AMI events in, one
// completed_call per Linkedid out (SPEC sections 2 and 5, and the field notes
// of tests/fixtures/ami/README.md).
//
// What it keeps per live call is a few short strings and one small record per
// channel (no copies of events), so memory per call stays bounded whatever
// the PBX sends. Two clocks are involved and never mixed within one figure:
// - call times (started_at, durations) come from `Event: Cdr` when present,
//   else from the events' `Timestamp:`, else from their arrival time;
// - deadlines (waiting for trailing Cdr events, stale calls after a lost
//   connection, the maximum call age) run on the arrival clock
//   (ami_event::received and the `now` given to finalize_stale).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/timestamp.hpp>

#include "config/config.hpp"
#include "messages/ami_event.hpp"
#include "messages/calls.hpp"

namespace sb {

/// Microseconds since the epoch of a CAF timestamp (system clock).
unix_micros to_unix_micros(caf::timestamp t) noexcept;

struct correlator_options {
  /// After a call's last Hangup, how long (arrival clock) to wait for its
  /// trailing `Cdr` events before finalizing it. Asterisk publishes some CDR
  /// rows just after the last Hangup (< 1 ms later in the captures); a call
  /// is finalized earlier than this when later events show the time passed.
  double cdr_grace_seconds = 0.02;
  /// See tracker_config.
  double stale_call_seconds = 300;
  double max_call_seconds = 4 * 3600;
  /// How long (arrival clock) a finalized Linkedid is remembered, so that
  /// its stragglers (late Cdr, events of a call finalized as stale) are
  /// dropped instead of opening a second call. Bounded by count as well.
  double finalized_memory_seconds = 600;
  size_t max_finalized_remembered = 100000;

  static correlator_options from(const tracker_config& cfg);
};

/// Counters, never reset.
struct correlator_stats {
  uint64_t events = 0;
  /// Events that touched a live call (the rest is noise such as VarSet).
  uint64_t call_events = 0;
  uint64_t calls_started = 0;
  /// Finalized after their last channel hung up.
  uint64_t calls_completed = 0;
  /// Finalized without it (connection lost, max age) or started unseen.
  uint64_t calls_incomplete = 0;
  /// Events of a call already finalized (dropped).
  uint64_t late_events = 0;
  /// Cdr events of no known channel (dropped).
  uint64_t orphan_cdrs = 0;
};

class call_correlator {
public:
  /// `pbxes` supplies per-PBX trunk and context rules; events of a PBX not
  /// listed use the FreePBX defaults of pbx_config.
  explicit call_correlator(std::vector<pbx_config> pbxes = {},
                           correlator_options options = {});

  call_correlator(const call_correlator&) = delete;
  call_correlator& operator=(const call_correlator&) = delete;

  /// Applies one event (any kind: noise is skipped cheaply) and appends the
  /// calls that became complete to `out`. Events of one PBX must come in
  /// arrival order.
  void on_event(const ami_event& event, std::vector<completed_call>& out);

  /// The connection to `pbx` dropped at `now` (arrival clock): its live calls
  /// may never see their Hangup. finalize_stale finalizes each of them with
  /// `incomplete = true` once stale_call_seconds pass without an event for
  /// it.
  void on_connection_lost(std::string_view pbx, unix_micros now);

  /// Finalizes what is due at `now` (arrival clock): hung-up calls past the
  /// Cdr grace, calls silent for stale_call_seconds since their connection
  /// dropped, calls older than max_call_seconds.
  void finalize_stale(unix_micros now, std::vector<completed_call>& out);

  /// The earliest `now` at which finalize_stale has something to check;
  /// std::numeric_limits<unix_micros>::max() when no call is live.
  unix_micros next_deadline() const noexcept;

  /// Calls in progress (including hung-up calls waiting for their Cdr).
  std::vector<live_call> active() const;

  size_t live_count() const noexcept;

  const correlator_stats& stats() const noexcept {
    return stats_;
  }

  /// Bytes held for live calls: the records, their heap strings and vectors
  /// and the hash-table nodes and buckets (allocator overhead excluded).
  size_t live_bytes() const;

  static constexpr unix_micros never = std::numeric_limits<unix_micros>::max();

private:
  enum class channel_kind : uint8_t { unknown, phone, trunk, local };

  /// Outcome of a Dial towards a channel (DialEnd DialStatus).
  enum class dial_outcome : uint8_t { none, answer, no_answer, busy, failed };

  struct channel_record {
    std::string uniqueid;
    /// Extension (phone endpoint or Local exten) taken from the channel
    /// name; empty for trunks.
    std::string endpoint;
    /// Call-clock times; 0 = not seen.
    unix_micros up_at = 0;
    unix_micros answered_at = 0; // a Dial to it was answered
    unix_micros hangup_at = 0;
    channel_kind kind = channel_kind::unknown;
    dial_outcome outcome = dial_outcome::none;
    /// 1-based order of the DialBegin towards it; 0 = never dialled.
    uint8_t dial_order = 0;
    bool hung_up = false;
    bool answered = false;
  };

  /// Aggregate of the call's CDR rows (Event: Cdr).
  struct cdr_summary {
    unix_micros start = 0; // earliest StartTime
    unix_micros end = 0;   // latest EndTime
    /// Earliest AnswerTime of a row where a person answered.
    unix_micros person_answer = 0;
    /// BillableSeconds of the originating channel's first ANSWERED row, else
    /// of its first row; -1 = no row of it yet.
    int32_t orig_billsec = -1;
    /// Sum of BillableSeconds of rows where a person answered.
    int32_t talk = 0;
    uint8_t rows = 0;
    uint8_t person_rows = 0;
    /// Disposition of the originating channel's first row.
    dial_outcome orig_disposition = dial_outcome::none;
    bool orig_answered_row = false;
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
    std::vector<channel_record> channels;
    cdr_summary cdr;
    /// Call clock: first event, last event, last Hangup.
    unix_micros first_at = 0;
    unix_micros last_at = 0;
    unix_micros end_at = 0;
    /// Arrival clock.
    unix_micros first_received = 0;
    unix_micros closing_due = 0; // finalize after this once all hung up
    unix_micros orphaned_at = 0; // its connection dropped (0 = not)
    int16_t orig_cause = -1;
    int8_t orig = -1; // index of the originating channel, -1 = unseen
    uint8_t dials = 0;
    bool partial = false; // its start was not seen
    bool dialled_out = false; // a Dial ran in an outbound context
    bool closing = false;
  };

  struct pbx_state {
    pbx_config config;
    std::unordered_map<std::string, call_record> calls; // by Linkedid
    /// Uniqueid of non-originating channels -> their call (for Cdr, which
    /// carries no Linkedid). Pointers into `calls` stay valid until erase.
    std::unordered_map<std::string, std::pair<const std::string, call_record>*>
      channel_calls;
    std::unordered_set<std::string> finalized;
    std::deque<std::pair<unix_micros, std::string>> finalized_order;
  };

  struct closing_entry {
    unix_micros due;
    pbx_state* pbx;
    std::string linkedid;
  };

  struct event_fields;

  pbx_state& pbx_for(std::string_view name);
  std::pair<const std::string, call_record>*
  call_for(pbx_state& pbx, const event_fields& f, unix_micros at,
           unix_micros received, bool may_create);
  channel_record& channel_for(pbx_state& pbx,
                              std::pair<const std::string, call_record>& call,
                              std::string_view uniqueid,
                              std::string_view channel_name,
                              std::string_view context);
  channel_kind classify(const pbx_state& pbx, std::string_view channel_name,
                        std::string_view context) const;
  void apply_cdr(pbx_state& pbx, const event_fields& f);
  void close_if_done(pbx_state& pbx,
                     std::pair<const std::string, call_record>& call,
                     unix_micros received);
  void finalize_due_closing(unix_micros now, std::vector<completed_call>& out);
  void finalize(pbx_state& pbx, const std::string& linkedid, bool incomplete,
                unix_micros received, std::vector<completed_call>& out);
  completed_call make_call(const pbx_state& pbx, const std::string& linkedid,
                           const call_record& call, bool incomplete) const;
  void remember_finalized(pbx_state& pbx, const std::string& linkedid,
                          unix_micros received);

  correlator_options options_;
  unix_micros cdr_grace_ = 0;
  unix_micros stale_after_ = 0;
  unix_micros max_age_ = 0;
  unix_micros finalized_memory_ = 0;
  std::unordered_map<std::string, pbx_state> pbxes_;
  pbx_state* last_pbx_ = nullptr;
  std::deque<closing_entry> closing_;
  /// When finalize_stale next needs to scan every call (stale / max age).
  unix_micros scan_due_ = never;
  size_t live_ = 0;
  std::string key_buffer_;
  correlator_stats stats_;
};

} // namespace sb
