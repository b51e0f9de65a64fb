#pragma once

// The call tracker's logic without an actor around it: AMI events in, one
// completed_call per Linkedid out, by the call-record rules of
// docs/architecture.md (domain/call_summary.hpp applies them).
//
// Two clocks are involved and never mixed within one figure:
// - call times (started_at, durations) come from `Event: Cdr` when present,
//   else from the events' `Timestamp:`, else from their arrival time;
// - deadlines (waiting for trailing Cdr events, stale calls after a lost
//   connection, the maximum call age) run on the arrival clock
//   (ami_event::received and the `now` given to finalize_stale).
//
// One call is one Linkedid, but channels change calls: Asterisk gives a
// park retriever or a picking phone its own Linkedid and switches it to the
// caller's when they are bridged (their own call then merges into the
// caller's), and the target of a SIP attended transfer moves from the
// consultation call to the caller's. Bridges are tracked per PBX, so a
// trunk bridged with a channel still listed under another Linkedid counts.

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
#include "domain/call_state.hpp"
#include "messages/ami_event.hpp"
#include "messages/calls.hpp"
#include "messages/events.hpp"

namespace sb {

namespace ami_fields {
struct event_fields;
} // namespace ami_fields

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
  /// Linkedids that turned out to be part of another call (park retriever,
  /// pickup) and were merged into it.
  uint64_t calls_merged = 0;
  /// Events of a call already finalized (dropped).
  uint64_t late_events = 0;
  /// Cdr events of no known channel (dropped).
  uint64_t orphan_cdrs = 0;
  /// New calls not followed because their PBX had max_live_calls live.
  uint64_t calls_refused = 0;
  /// Events of such calls (dropped).
  uint64_t refused_events = 0;
};

/// What the live-call cap of one PBX refused since the last look.
struct call_refusals {
  std::string pbx;
  size_t cap = 0;
  uint64_t calls = 0;
  uint64_t events = 0;
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

  /// From now on on_event also appends to `out` what live calls do: a phone
  /// starts ringing (outbound: the call leaves), a person answers, the
  /// call moves to another person. Null stops it. `out` must outlive the
  /// calls to on_event.
  void collect_notices(std::vector<live_notice>* out) noexcept {
    notices_ = out;
  }

  /// The connection to `pbx` dropped at `now` (arrival clock): its live calls
  /// may never see their Hangup. The re-sync after the next login
  /// (`CoreShowChannel` events, then `CoreShowChannelsComplete`) re-attaches
  /// the calls still up and finalizes, `incomplete`, those that ended while
  /// the connection was down. Without a re-sync, finalize_stale finalizes
  /// each of them with `incomplete = true` once stale_call_seconds pass
  /// without an event for it.
  void on_connection_lost(std::string_view pbx, unix_micros now);

  /// Finalizes what is due at `now` (arrival clock): hung-up calls past the
  /// Cdr grace, calls silent for stale_call_seconds since their connection
  /// dropped, calls older than max_call_seconds.
  void finalize_stale(unix_micros now, std::vector<completed_call>& out);

  /// The earliest `now` at which finalize_stale has something to check;
  /// std::numeric_limits<unix_micros>::max() when no call is live.
  unix_micros next_deadline() const noexcept;

  /// The gaps the re-syncs since the last call found (one per re-sync: at
  /// start-up and after every loss), for the CDR catch-up; cleared.
  std::vector<cdr_gap> take_gaps() {
    return std::exchange(gaps_, {});
  }

  /// Calls in progress (including hung-up calls waiting for their Cdr).
  std::vector<live_call> active() const;

  size_t live_count() const noexcept;

  /// Per PBX, what its live-call cap refused since the last call; empty
  /// when nothing was.
  std::vector<call_refusals> take_refusals();

  const correlator_stats& stats() const noexcept {
    return stats_;
  }

  /// Bytes held for live calls: the records, their heap strings and vectors
  /// and the hash-table nodes and buckets (allocator overhead excluded).
  size_t live_bytes() const;

  static constexpr unix_micros never = std::numeric_limits<unix_micros>::max();

private:
  using call_entry = std::pair<const std::string, call_record>;
  using fields = ami_fields::event_fields;

  struct pbx_state {
    pbx_config config;
    std::unordered_map<std::string, call_record> calls; // by Linkedid
    /// Uniqueid of every channel of a live call -> its call (Cdr carries no
    /// Linkedid; channels change calls). Pointers into `calls` stay valid
    /// until that call is erased.
    std::unordered_map<std::string, call_entry*> channel_calls;
    /// BridgeUniqueid -> Uniqueids of the channels in it.
    std::unordered_map<std::string, std::vector<std::string>> bridges;
    /// Uniqueids the running re-sync (CoreShowChannel events) listed.
    std::unordered_set<std::string> listed;
    std::unordered_set<std::string> finalized;
    std::deque<std::pair<unix_micros, std::string>> finalized_order;
    /// The latest event Timestamp (the PBX's clock), 0 = none seen.
    unix_micros last_stamp = 0;
    /// last_stamp when the connection was lost; `lost` until the re-sync.
    unix_micros stamp_at_loss = 0;
    bool lost = false;
  };

  struct closing_entry {
    unix_micros due;
    pbx_state* pbx;
    std::string linkedid;
  };

  // Events (domain/call_correlator.cpp).
  pbx_state& pbx_for(std::string_view name);
  call_entry* call_for(pbx_state& pbx, const fields& f, unix_micros at,
                       unix_micros received);
  call_entry* resolve(pbx_state& pbx, const fields& f, unix_micros at,
                      unix_micros received);
  /// Counts an event of a call the live-call cap keeps out.
  void refuse(pbx_state& pbx, const fields& f);
  channel_record& channel_for(pbx_state& pbx, call_entry& call,
                              std::string_view uniqueid,
                              std::string_view channel_name,
                              std::string_view context);
  channel_kind classify(const pbx_state& pbx, std::string_view channel_name,
                        std::string_view context) const;
  void on_call_event(pbx_state& pbx, call_entry& entry, const fields& f,
                     unix_micros at, unix_micros received);
  void on_dial(pbx_state& pbx, call_entry& entry, const fields& f,
               unix_micros at, unix_micros received);
  void on_originate_dial(pbx_state& pbx, const fields& f, unix_micros at);
  void on_originate_response(pbx_state& pbx, const fields& f);
  /// An OriginateResponse for one of our click-to-call requests: binds the
  /// request to its call (may be null: no channel was ever created) and
  /// tells of a failure (domain/call_notices.cpp).
  void on_own_originate(pbx_state& pbx, const fields& f, call_entry* entry);
  void apply_cdr(pbx_state& pbx, const fields& f);
  /// VarSet of MIXMONITOR_FILENAME: the call's recording.
  void on_recording(const ami_event& e);

  // Channels changing calls and bridges (domain/call_bridges.cpp).
  void adopt(pbx_state& pbx, call_entry& into, call_entry& from,
             std::string_view uniqueid, unix_micros at, unix_micros received);
  void merge(pbx_state& pbx, call_entry& into, call_entry& from,
             unix_micros received);
  void enter_bridge(pbx_state& pbx, channel_record& ch,
                    std::string_view bridge);
  void leave_bridge(pbx_state& pbx, channel_record& ch);
  void merge_bridges(pbx_state& pbx, const fields& f, unix_micros at);
  void reevaluate(pbx_state& pbx, call_entry& entry,
                  std::string_view old_bridge, unix_micros at);
  void update_connection(pbx_state& pbx, call_entry& entry, unix_micros at);
  // Notices (domain/call_notices.cpp).
  void notice_ringing(pbx_state& pbx, call_entry& entry,
                      const channel_record& rung, unix_micros at);
  void notice_person(pbx_state& pbx, call_entry& entry,
                     const std::string& person, unix_micros at);
  /// The record of channel `uniqueid` in whichever live call holds it.
  channel_record* lookup(pbx_state& pbx, std::string_view uniqueid);

  // Re-sync after a login (domain/call_resync.cpp).
  void on_listed_channel(pbx_state& pbx, call_entry& entry, channel_record& ch,
                         const fields& f, unix_micros at);
  void on_list_complete(pbx_state& pbx, unix_micros at, unix_micros received,
                        bool stamped, std::vector<completed_call>& out);

  // Finalization (domain/call_correlator.cpp).
  void close_if_done(pbx_state& pbx, call_entry& call, unix_micros received);
  void finalize_due_closing(unix_micros now, std::vector<completed_call>& out);
  void finalize(pbx_state& pbx, const std::string& linkedid, bool incomplete,
                unix_micros received, std::vector<completed_call>& out);
  void forget(pbx_state& pbx, call_entry& entry);
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
  std::vector<call_refusals> refusals_;
  std::string key_buffer_;
  std::string lookup_buffer_;
  correlator_stats stats_;
  std::vector<live_notice>* notices_ = nullptr;
  std::vector<cdr_gap> gaps_;
};

} // namespace sb
