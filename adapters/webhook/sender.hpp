#pragma once

// One webhook endpoint's delivery: a thread of its own with its own
// database session reads the event log after the endpoint's stored
// progress, in id order, and POSTs each selected event (delivery.hpp).
//
// At least once, in order: the next event is sent only after the one
// before it was delivered or given up on, and the progress (last_event_id)
// is stored after each 2xx. A failure that may pass (5xx, 408, 429, a
// timeout, a refused connection) stores the attempt count and the time of
// the next attempt (retry_initial_seconds doubling to retry_max_seconds,
// each drawn from [0.75 d, d]), so a restart keeps the schedule; after
// max_attempts, or at once for any other answer (4xx), the event goes to
// webhook_dead_letters and is skipped. Events of types the endpoint does
// not select are skipped.
//
// Several instances on one PostgreSQL: each step claims the endpoint's
// row (store::database::claim_webhook, FOR UPDATE SKIP LOCKED), so one
// instance delivers at a time and each event reaches the endpoint once
// (again only after a crash between the answer and the commit).
//
// Woken by the event signal (this process's appends; other instances'
// through PostgreSQL NOTIFY when the live stream listens), with a poll as
// fallback. The pipeline never waits for it: it only reads the table.
//
// Metrics (label endpoint): switchboard_webhook_deliveries_total{outcome},
// switchboard_webhook_dead_letters_total, switchboard_webhook_lag_seconds,
// switchboard_webhook_delivery_seconds.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "adapters/metrics/registry.hpp"
#include "adapters/store/database.hpp"
#include "adapters/webhook/delivery.hpp"
#include "config/config.hpp"
#include "core/event_signal.hpp"
#include "core/time.hpp"
#include "messages/webhooks.hpp"

namespace sb::webhook {

using store::webhook_dead_letter;
using store::webhook_progress;
using store::webhook_step;

class sender {
public:
  /// Starts delivering to `cfg.url` from `db_url`; `poll` bounds how long
  /// a new event may wait when no signal comes.
  sender(std::string db_url, webhook_config cfg, shared_event_signal signal,
         std::chrono::milliseconds poll);
  /// Stops at once: a POST in flight is aborted (sent again next time).
  ~sender();

  sender(const sender&) = delete;
  sender& operator=(const sender&) = delete;

  webhook_status status() const;

private:
  enum class step_kind { progressed, idle, waiting, busy };

  void run();
  bool ensure_db();
  caf::expected<webhook_step> step(store::database& db,
                                   const webhook_progress& p);
  caf::expected<webhook_step> next_page(store::database& db,
                                        const webhook_progress& p);
  webhook_step attempt(const webhook_progress& p);
  bool selected(const stored_event& e) const;
  std::chrono::milliseconds retry_delay(int64_t attempts);
  void pause(std::chrono::milliseconds d);
  void wait_for_events(uint64_t seen);
  void note(const webhook_progress& p, const std::string& error);

  std::string url_;
  webhook_config cfg_;
  std::set<std::string> types_;
  shared_event_signal signal_;
  std::chrono::milliseconds poll_;
  std::unique_ptr<store::database> db_;
  poster poster_;

  /// Selected events after `read_to_` was read up to; valid while the
  /// stored progress is `expected_last_` (else another instance moved it).
  std::deque<stored_event> cache_;
  int64_t read_to_ = -1;
  int64_t expected_last_ = -1;
  step_kind last_kind_ = step_kind::idle;
  unix_micros wait_until_ = 0;
  std::chrono::milliseconds db_backoff_{100};

  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  webhook_status status_;
  /// The `at` of the oldest selected event not delivered (0 = none), read
  /// by the lag gauge at scrape time.
  std::shared_ptr<std::atomic<int64_t>> oldest_pending_;

  metrics::counter* delivered_ = nullptr;
  metrics::counter* failed_ = nullptr;
  metrics::counter* refused_ = nullptr;
  metrics::counter* exhausted_ = nullptr;
  metrics::counter* dead_letters_ = nullptr;
  metrics::histogram* seconds_ = nullptr;
  std::thread thread_;
};

} // namespace sb::webhook
