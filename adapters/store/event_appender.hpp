#pragma once

// The writing half of the event log: a bounded queue in front of a thread
// of its own with its own database session, which appends queued events in
// short batched transactions, rings an event_signal after each commit and
// prunes events older than the retention in the background.
//
// offer() never blocks and never waits for the database: at the bound
// (events.queue_max) the new event is dropped, counted in
// switchboard_events_dropped_total{reason="queue_full"} and logged (the
// first drop and then every 1000th). The comms log is unaffected: the event
// log is a notification log next to it, never in the way of a call.
//
// While the database is down the batch is kept and retried with backoff
// (100 ms doubling to 5 s); new events queue up to the bound meanwhile.
//
// `call.logged` events arrive without payload (event_record::entry_source
// set): the appender reads the committed entry itself (one SELECT on its own
// session, off the pipeline) and sends it as GET /api/crm/comms shows it.
//
// Metrics: switchboard_events_appended_total, switchboard_events_dropped_total
// {reason}, switchboard_events_queued, switchboard_events_pruned_total,
// switchboard_events_prune_seconds, switchboard_events_append_seconds.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/metrics/registry.hpp"
#include "adapters/store/database.hpp"
#include "config/config.hpp"
#include "core/event_signal.hpp"
#include "messages/events.hpp"

namespace sb::store {

class event_appender {
public:
  /// Opens `db_url` on its own thread (a failure is an outage, retried).
  event_appender(std::string db_url, events_config cfg,
                 shared_event_signal signal);
  /// Writes what it can within a second, then stops; what is left is
  /// logged as lost.
  ~event_appender();

  event_appender(const event_appender&) = delete;
  event_appender& operator=(const event_appender&) = delete;

  /// Queues `e`; false (counted, logged) when the queue is full.
  bool offer(event_record e);

  /// Waits up to `budget` until everything queued is written; returns how
  /// many events are still unwritten.
  int64_t flush(std::chrono::milliseconds budget);

  /// Prunes now (tests, benchmark); returns the events deleted.
  int64_t prune_now();

  /// Events queued or being written.
  size_t backlog() const;

private:
  void run();
  bool ensure_db();
  bool write_batch(const std::vector<event_record>& batch);
  void maybe_prune();
  static stored_event stored(const event_record& e);

  /// Fills the payloads of call.logged / manual.logged rows from the
  /// committed entries; false when the database failed (retry the batch).
  bool add_entries(const std::vector<event_record>& batch,
                   std::vector<stored_event>& rows);

  std::string url_;
  events_config cfg_;
  shared_event_signal signal_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<event_record> queue_;
  /// Taken off the queue, not yet committed.
  size_t in_flight_ = 0;
  bool stop_ = false;
  uint64_t dropped_ = 0;
  std::unique_ptr<database> db_;
  std::chrono::steady_clock::time_point next_prune_;
  std::chrono::milliseconds backoff_{100};
  metrics::counter* appended_ = nullptr;
  metrics::counter* dropped_full_ = nullptr;
  metrics::gauge* queued_ = nullptr;
  metrics::counter* pruned_ = nullptr;
  metrics::histogram* prune_seconds_ = nullptr;
  metrics::histogram* append_seconds_ = nullptr;
  std::thread thread_;
};

} // namespace sb::store
