#pragma once

// cdr_catchup: one per PBX with a CDR database (pbx.<name>.cdr_url). Spawn
// it detached: it blocks on the CDR database and the comms-log store, and
// must never hold a scheduler thread the AMI path needs.
//
//   auto cdr = sys.spawn<caf::detached>(cdr_catchup, pbx, db_url, matcher,
//                                       board);
//   caf::anon_send(tracker, rewire_atom_v, pbx.name, caf::actor_cast<caf::actor>(cdr));
//
// For every gap (cdr_gap, from the tracker's re-syncs) it reads the CDR rows
// of the calls that ended in it, builds the calls (domain/cdr_calls.hpp),
// leaves out those still live at the re-sync, and sends the rest to the
// customer matcher, marked recovered = "cdr"; the store writes only those
// not logged yet (their identity is the AMI one) and completes an entry the
// re-sync finalized incomplete. At start-up the gap runs from the last call
// logged from the PBX, at most pbx.cdr_catchup_hours back. The window is in
// the PBX's clock: the events' Timestamp, else the CDR's own latest time.
// A CDR database that is unreachable or fails keeps the gaps queued and is
// retried with backoff (logged once per outage); its state is on the status
// board (/readyz) and in switchboard_cdr_up{pbx}.
//
// Metrics: switchboard_cdr_up{pbx}, switchboard_cdr_rows_read_total{pbx},
// switchboard_cdr_calls_recovered_total{pbx} (calls handed on),
// switchboard_cdr_errors_total{pbx}, switchboard_cdr_pending_gaps{pbx}.

#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "adapters/cdr/cdr_database.hpp"
#include "adapters/cdr/status_board.hpp"
#include "adapters/metrics/registry.hpp"
#include "adapters/store/database.hpp"
#include "config/config.hpp"
#include "messages/cdr_catchup_actor.hpp"
#include "messages/customer_matcher_actor.hpp"

namespace sb {

struct cdr_catchup_state {
  static inline const char* name = "cdr_catchup";

  static constexpr std::chrono::milliseconds retry_backoff_initial{200};
  static constexpr std::chrono::milliseconds retry_backoff_max{30000};
  /// Rows read before a gap's start: a call that began this long before the
  /// gap and ended in it is still caught.
  static constexpr int64_t lookback_seconds = 4 * 3600;
  /// At start-up the gap begins this long before the last call logged
  /// ended.
  static constexpr int64_t startup_overlap_seconds = 300;
  /// How much earlier than the real end a CDR row's end (calldate plus
  /// duration, both cut to the second) can be.
  static constexpr int64_t cdr_time_slack_seconds = 2;

  pbx_config pbx;
  std::string store_url;
  caf::actor matcher;
  std::shared_ptr<cdr::status_board> board;
  std::unique_ptr<cdr::database> cdr;
  std::unique_ptr<store::database> store;
  std::deque<cdr_gap> pending;
  bool down = false;
  bool retry_scheduled = false;
  std::chrono::milliseconds backoff = retry_backoff_initial;
  std::string last_error;

  metrics::gauge* up = nullptr;
  metrics::gauge* pending_gauge = nullptr;
  metrics::counter* rows_read = nullptr;
  metrics::counter* recovered = nullptr;
  metrics::counter* errors = nullptr;
};

cdr_catchup_actor::behavior_type
cdr_catchup(cdr_catchup_actor::stateful_pointer<cdr_catchup_state> self,
            pbx_config pbx, std::string store_url, caf::actor matcher,
            std::shared_ptr<cdr::status_board> board);

} // namespace sb
