#pragma once

// comms_log_writer: the only writer of the comms log (and of customers) in
// the process.
//
// Spawn it detached, because it blocks on SQL I/O and must not hold a
// scheduler thread that the AMI path needs:
//
//   auto writer = sys.spawn<caf::detached>(comms_log_writer, cfg.db);
//
// Behaviour:
//   - Matched calls are queued and written in transactions of at most
//     db_config.batch_size. Arrival schedules a flush by a message to itself,
//     so every call already in the mailbox joins the same transaction: one row
//     per transaction when idle (no added latency), large batches under load.
//   - A record that cannot be committed at once (database down or locked)
//     goes to the spool file db_config.spool_path (fsync'd per append) at
//     once: memory is only a cache in front of the database, bounded by
//     db_config.max_pending while the database is slow. The writer retries
//     with exponential backoff (retry_backoff_initial doubling to
//     retry_backoff_max) and drains the spool back into the database when it
//     returns; a writer started later with the same spool path sends what is
//     left. Sending a record twice is harmless: inserts are idempotent on
//     (source, ext_message_id). The spool is limited to db.spool_max_mb; a
//     record it refuses (full, disk error) stays in memory with an error
//     logged and counted (switchboard_writer_spool_refused_total). An empty
//     spool_path disables the spool (memory only, with an error logged).
//   - `flush_atom, budget_ms` (a stop): commits what it can within the
//     budget, spools the rest and answers a drain_report.
//   - A record the database refuses (constraint) is isolated from its batch,
//     logged with its identity and counted in
//     switchboard_writer_rejected_total; the rest of the batch is written.
//   - Manual entries and customers (request / response) are written at once.
//     While the database is down they fail immediately with
//     ec::database_unavailable ("database unavailable: ..."), so HTTP can
//     answer 503; data the database refuses fails with
//     caf::sec::invalid_argument. After a customer was added, changed or
//     deleted, the caller tells the customer_matcher
//     (`customer_atom, customer`; a deleted one with no phone): the writer
//     does not know the matcher.
//
// Metrics: switchboard_calls_logged_total{source,direction,disposition} (new
// rows), switchboard_calls_deduplicated_total{source,outcome} (records already
// stored: duplicate or merged), switchboard_db_write_seconds,
// switchboard_db_batch_size, switchboard_writer_pending,
// switchboard_writer_spool_depth, switchboard_writer_db_errors_total{kind},
// switchboard_writer_rejected_total, switchboard_writer_spool_bytes,
// switchboard_writer_spool_limit_bytes, switchboard_writer_spooled_total,
// switchboard_writer_spool_refused_total.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "adapters/metrics/registry.hpp"
#include "adapters/store/database.hpp"
#include "adapters/store/spool.hpp"
#include "config/config.hpp"
#include "core/flow_gate.hpp"
#include "messages/comms_log_writer_actor.hpp"
#include "messages/event_log_actor.hpp"

namespace sb {

struct comms_log_writer_state {
  static inline const char* name = "comms_log_writer";

  static constexpr std::chrono::milliseconds retry_backoff_initial{50};
  static constexpr std::chrono::milliseconds retry_backoff_max{5000};
  /// The writer is the only writer of the file: a lock held longer than this
  /// belongs to someone else (an import, an operator's shell) and is waited
  /// out by retrying, not by blocking the actor.
  static constexpr std::chrono::milliseconds sqlite_busy_timeout{250};

  metrics::actor_metrics* metrics = &metrics::global().actor(name);

  db_config config;
  std::unique_ptr<store::database> db;
  std::unique_ptr<store::spool> spool;
  /// Accepted, not yet committed, in arrival order.
  std::deque<matched_call> pending;

  /// The last attempt failed for lack of a database; a delayed retry_atom is
  /// on its way.
  bool down = false;
  /// A retry_atom to ourselves is queued (flush after the mailbox drains).
  bool flush_scheduled = false;
  std::chrono::milliseconds backoff = retry_backoff_initial;
  std::chrono::steady_clock::time_point next_attempt;
  /// Records beyond max_pending when no spool is available (logged once).
  bool warned_unbounded = false;
  /// Released by every record that leaves memory (committed or spooled):
  /// the call tracker charged it. Null = no bound.
  std::shared_ptr<flow_gate> downstream;
  /// Where call.logged events go (none = not logged), and those of the
  /// transaction just committed.
  event_log_actor events;
  std::vector<event_record> logged_events;

  metrics::histogram* write_seconds = nullptr;
  metrics::histogram* batch_size = nullptr;
  metrics::gauge* pending_gauge = nullptr;
  metrics::gauge* spool_gauge = nullptr;
  metrics::gauge* spool_bytes = nullptr;
  metrics::gauge* spool_limit = nullptr;
  metrics::counter* spooled_total = nullptr;
  metrics::counter* spool_refused = nullptr;
  /// Records committed since start (new rows and records already stored).
  int64_t committed = 0;
  metrics::counter* errors_unavailable = nullptr;
  metrics::counter* errors_rejected = nullptr;
  metrics::counter* rejected = nullptr;
  /// switchboard_calls_logged_total by (source, direction, disposition).
  std::map<std::tuple<std::string, std::string, std::string>, metrics::counter*>
      logged;

  /// Records still queued go to the spool, so a restart sends them.
  ~comms_log_writer_state();

  size_t held() const noexcept {
    return pending.size() + (spool ? spool->depth() : 0);
  }
};

/// `cfg.url` is opened at start (a failure is an outage: retried with
/// backoff); `cfg.spool_path` is opened (created) at start.
comms_log_writer_actor::behavior_type comms_log_writer(
    comms_log_writer_actor::stateful_pointer<comms_log_writer_state> self,
    db_config cfg);

/// As comms_log_writer, releasing `downstream` for every record committed
/// or spooled (see call_tracker_bounded).
comms_log_writer_actor::behavior_type comms_log_writer_bounded(
    comms_log_writer_actor::stateful_pointer<comms_log_writer_state> self,
    db_config cfg, std::shared_ptr<flow_gate> downstream);

} // namespace sb
