#include "adapters/store/event_appender.hpp"

#include <algorithm>
#include <tuple>

#include "adapters/json/row_json.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace sb::store {

namespace {

constexpr const char* log_name = "event_log";
/// Events per transaction: short, because on SQLite the comms-log writer
/// waits for the same write lock meanwhile.
constexpr size_t batch_max = 256;
constexpr std::chrono::milliseconds backoff_max{5000};
constexpr std::chrono::minutes prune_interval{1};
constexpr std::chrono::milliseconds stop_budget{1000};

using clock_type = std::chrono::steady_clock;

} // namespace

event_appender::event_appender(std::string db_url, events_config cfg,
                               shared_event_signal signal)
    : url_(std::move(db_url)), cfg_(cfg), signal_(std::move(signal)) {
  auto& reg = metrics::global();
  appended_ = &reg.get_counter("switchboard_events_appended_total",
                               "Events written to the event log.");
  dropped_full_ = &reg.get_counter(
      "switchboard_events_dropped_total",
      "Events not written to the event log, by reason (the calls themselves "
      "are logged regardless).",
      {{"reason", "queue_full"}});
  queued_ = &reg.get_gauge("switchboard_events_queued",
                           "Events waiting to be written to the event log.");
  pruned_ = &reg.get_counter("switchboard_events_pruned_total",
                             "Events deleted after events.retention_hours.");
  prune_seconds_ = &reg.get_histogram(
      "switchboard_events_prune_seconds",
      "Time of one pruning pass over the event log.");
  append_seconds_ = &reg.get_histogram(
      "switchboard_events_append_seconds",
      "Time to commit one batch of events to the event log.");
  next_prune_ = clock_type::now();
  thread_ = std::thread{[this] { run(); }};
}

event_appender::~event_appender() {
  flush(stop_budget);
  size_t left = 0;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stop_ = true;
    left = queue_.size() + in_flight_;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  if (left > 0)
    log::warning(log_name, "events not written at stop (lost)",
                 {{"events", std::to_string(left)}});
}

bool event_appender::offer(event_record e) {
  if (e.at == 0)
    e.at = now_micros();
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (queue_.size() + in_flight_ >= std::max<size_t>(1, cfg_.queue_max)) {
      dropped = ++dropped_;
    } else {
      queue_.push_back(std::move(e));
      queued_->set(static_cast<double>(queue_.size() + in_flight_));
    }
  }
  if (dropped == 0) {
    cv_.notify_one();
    return true;
  }
  dropped_full_->inc();
  if (dropped == 1 || dropped % 1000 == 0)
    log::warning(log_name,
                 "event log queue full (database slow or down): events "
                 "dropped; calls are still logged",
                 {{"dropped", std::to_string(dropped)},
                  {"type", e.type},
                  {"queue_max", std::to_string(cfg_.queue_max)}});
  return false;
}

int64_t event_appender::flush(std::chrono::milliseconds budget) {
  std::unique_lock<std::mutex> lock{mutex_};
  idle_cv_.wait_for(lock, budget,
                    [&] { return queue_.empty() && in_flight_ == 0; });
  return static_cast<int64_t>(queue_.size() + in_flight_);
}

size_t event_appender::backlog() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return queue_.size() + in_flight_;
}

bool event_appender::ensure_db() {
  if (db_)
    return true;
  auto db = database::open(url_);
  if (!db) {
    log::warning(log_name, "cannot open the database for events; retrying",
                 {{"error", describe(db.error())}});
    return false;
  }
  db_ = std::move(*db);
  return true;
}

stored_event event_appender::stored(const event_record& e) {
  stored_event s;
  s.type = e.type;
  s.at = json::iso8601_millis(e.at);
  s.origin = e.origin;
  s.call_id = e.call_id;
  s.extension = e.extension;
  s.agent_id = e.agent_id;
  s.customer_id = e.customer_id;
  s.payload_json = e.payload_json;
  return s;
}

bool event_appender::add_entries(const std::vector<event_record>& batch,
                                 std::vector<stored_event>& rows) {
  // The entries as committed (merged fields, customer): read, not rebuilt,
  // with one statement for the whole batch.
  std::vector<std::tuple<std::string, std::string, std::string>> keys;
  std::vector<size_t> slots;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].entry_source.empty() || !rows[i].payload_json.empty())
      continue;
    keys.emplace_back(batch[i].entry_source, rows[i].origin, rows[i].call_id);
    slots.push_back(i);
  }
  if (keys.empty())
    return true;
  auto found = db_->find_comms_many(keys);
  if (!found) {
    log::warning(log_name, "cannot read the logged entries; retrying",
                 {{"events", std::to_string(keys.size())},
                  {"error", describe(found.error())}});
    if (is_unavailable(found.error()))
      db_.reset();
    return false;
  }
  for (size_t k = 0; k < slots.size(); ++k) {
    auto& s = rows[slots[k]];
    const auto& entry = (*found)[k];
    if (!entry) {
      s.payload_json = "{\"entry\":null}";
      continue;
    }
    if (entry->customer_id)
      s.customer_id = entry->customer_id;
    if (s.extension.empty())
      s.extension = entry->extension;
    s.payload_json = "{\"entry\":" + json::entry_json(*entry) + "}";
  }
  return true;
}

bool event_appender::write_batch(const std::vector<event_record>& batch) {
  if (!ensure_db())
    return false;
  std::vector<stored_event> rows;
  rows.reserve(batch.size());
  for (auto& e : batch)
    rows.push_back(stored(e));
  if (!add_entries(batch, rows))
    return false;
  auto t0 = clock_type::now();
  auto res = db_->append_events(rows);
  if (!res) {
    log::warning(log_name, "cannot append events; retrying",
                 {{"events", std::to_string(rows.size())},
                  {"error", describe(res.error())}});
    if (is_unavailable(res.error()))
      db_.reset();
    return false;
  }
  append_seconds_->observe(
      std::chrono::duration<double>(clock_type::now() - t0).count());
  appended_->inc(static_cast<double>(rows.size()));
  if (signal_)
    signal_->ring();
  return true;
}

void event_appender::maybe_prune() {
  if (clock_type::now() < next_prune_ || !ensure_db())
    return;
  next_prune_ = clock_type::now() + prune_interval;
  prune_now();
}

int64_t event_appender::prune_now() {
  if (!ensure_db())
    return 0;
  auto cutoff = now_micros()
                - static_cast<unix_micros>(cfg_.retention_hours * 3600e6);
  auto t0 = clock_type::now();
  auto n = db_->prune_events(json::iso8601_millis(cutoff));
  if (!n) {
    log::warning(log_name, "cannot prune old events; retrying later",
                 {{"error", describe(n.error())}});
    return 0;
  }
  prune_seconds_->observe(
      std::chrono::duration<double>(clock_type::now() - t0).count());
  pruned_->inc(static_cast<double>(*n));
  if (*n > 0)
    log::info(log_name, "old events pruned",
              {{"events", std::to_string(*n)},
               {"retention_hours", std::to_string(cfg_.retention_hours)}});
  return *n;
}

void event_appender::run() {
  std::vector<event_record> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock{mutex_};
      if (batch.empty()) {
        cv_.wait_for(lock, std::chrono::seconds{1},
                     [&] { return stop_ || !queue_.empty(); });
        if (stop_)
          return;
        auto n = std::min(batch_max, queue_.size());
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        in_flight_ = batch.size();
      } else if (stop_) {
        return;
      }
    }
    if (!batch.empty()) {
      if (write_batch(batch)) {
        batch.clear();
        backoff_ = std::chrono::milliseconds{100};
      } else {
        std::unique_lock<std::mutex> lock{mutex_};
        cv_.wait_for(lock, backoff_, [&] { return stop_; });
        backoff_ = std::min(backoff_ * 2, backoff_max);
        continue;
      }
    }
    {
      std::lock_guard<std::mutex> guard{mutex_};
      in_flight_ = 0;
      queued_->set(static_cast<double>(queue_.size()));
      if (queue_.empty())
        idle_cv_.notify_all();
    }
    maybe_prune();
  }
}

} // namespace sb::store
