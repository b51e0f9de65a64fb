#include "adapters/webhook/sender.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "adapters/json/row_json.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace sb::webhook {

namespace {

constexpr const char* log_name = "webhooks";
/// Events read per query.
constexpr size_t page = 200;
constexpr std::chrono::milliseconds db_backoff_max{5000};

using namespace std::chrono;

std::chrono::milliseconds to_ms(double seconds) {
  return milliseconds{static_cast<int64_t>(std::llround(seconds * 1000))};
}

unix_micros event_time(const stored_event& e) {
  auto t = parse_iso8601(e.at);
  return t ? *t : now_micros();
}

} // namespace

sender::sender(std::string db_url, webhook_config cfg,
               shared_event_signal signal, milliseconds poll)
    : url_(std::move(db_url)), cfg_(std::move(cfg)),
      types_(cfg_.events.begin(), cfg_.events.end()),
      signal_(std::move(signal)), poll_(std::max(poll, milliseconds{10})),
      poster_(cfg_.url, cfg_.secret, to_ms(cfg_.timeout_seconds)),
      oldest_pending_(std::make_shared<std::atomic<int64_t>>(0)) {
  status_.endpoint = cfg_.name;
  auto& reg = metrics::global();
  auto outcome = [&](const char* name) {
    return &reg.get_counter(
        "switchboard_webhook_deliveries_total",
        "Webhook delivery attempts by endpoint and outcome: delivered (2xx), "
        "failed (retried later), refused (4xx, dead-lettered), exhausted "
        "(max_attempts reached, dead-lettered).",
        {{"endpoint", cfg_.name}, {"outcome", name}});
  };
  delivered_ = outcome("delivered");
  failed_ = outcome("failed");
  refused_ = outcome("refused");
  exhausted_ = outcome("exhausted");
  dead_letters_ = &reg.get_counter(
      "switchboard_webhook_dead_letters_total",
      "Events given up on (recorded in webhook_dead_letters) by endpoint.",
      {{"endpoint", cfg_.name}});
  seconds_ = &reg.get_histogram("switchboard_webhook_delivery_seconds",
                                "Time of one webhook POST by endpoint.",
                                {{"endpoint", cfg_.name}});
  auto oldest = oldest_pending_;
  reg.add_callback_gauge(
      "switchboard_webhook_lag_seconds",
      "Age of the oldest selected event not yet delivered to the endpoint "
      "(0 = caught up, or another instance delivers).",
      {{"endpoint", cfg_.name}}, [oldest] {
        auto at = oldest->load();
        if (at == 0)
          return 0.0;
        return std::max(0.0, static_cast<double>(now_micros() - at) / 1e6);
      });
  thread_ = std::thread{[this] { run(); }};
}

sender::~sender() {
  stop_ = true;
  poster_.stop();
  {
    std::lock_guard<std::mutex> guard{mutex_};
  }
  cv_.notify_all();
  if (signal_)
    signal_->ring();
  if (thread_.joinable())
    thread_.join();
}

webhook_status sender::status() const {
  std::lock_guard<std::mutex> guard{mutex_};
  auto s = status_;
  auto at = oldest_pending_->load();
  s.lag_seconds
      = at == 0 ? 0.0 : static_cast<double>(now_micros() - at) / 1e6;
  return s;
}

bool sender::selected(const stored_event& e) const {
  return types_.empty() || types_.count(e.type) > 0;
}

milliseconds sender::retry_delay(int64_t attempts) {
  auto initial = static_cast<double>(to_ms(cfg_.retry_initial_seconds).count());
  auto max = static_cast<double>(to_ms(cfg_.retry_max_seconds).count());
  auto d = initial * std::pow(2.0, static_cast<double>(std::max<int64_t>(
                                        0, std::min<int64_t>(attempts - 1, 40))));
  d = std::min(d, max);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // Receivers that failed together do not all retry in lockstep.
  std::uniform_real_distribution<double> spread{0.75, 1.0};
  return milliseconds{static_cast<int64_t>(d * spread(rng))};
}

bool sender::ensure_db() {
  if (db_)
    return true;
  auto db = store::database::open(url_);
  if (!db) {
    log::warning(log_name, "cannot open the database for webhooks; retrying",
                 {{"endpoint", cfg_.name}, {"error", describe(db.error())}});
    return false;
  }
  if (auto made = (*db)->ensure_webhook(cfg_.name); !made) {
    log::warning(log_name, "cannot create the webhook's progress; retrying",
                 {{"endpoint", cfg_.name}, {"error", describe(made.error())}});
    return false;
  }
  db_ = std::move(*db);
  return true;
}

void sender::note(const webhook_progress& p, const std::string& error) {
  std::lock_guard<std::mutex> guard{mutex_};
  status_.last_event_id = p.last_event_id;
  status_.attempts = p.attempts;
  status_.last_error = error;
  status_.claimed_elsewhere = false;
}

caf::expected<webhook_step> sender::next_page(store::database& db,
                                              const webhook_progress& p) {
  auto events = db.events_after(read_to_, page);
  if (!events)
    return std::move(events.error());
  webhook_step out;
  out.progress = p;
  if (events->empty()) {
    last_kind_ = step_kind::idle;
    oldest_pending_->store(0);
    // Events of other types were skipped up to here: remember it, so a
    // restart need not read them again.
    if (read_to_ > p.last_event_id) {
      out.store = true;
      out.progress.last_event_id = read_to_;
      expected_last_ = read_to_;
    }
    return out;
  }
  for (auto& e : *events)
    if (selected(e))
      cache_.push_back(std::move(e));
  read_to_ = events->back().id;
  last_kind_ = step_kind::progressed;
  if (cache_.empty()) {
    // A page of other types only: skip it for good.
    out.store = true;
    out.progress.last_event_id = read_to_;
    expected_last_ = read_to_;
  }
  return out;
}

webhook_step sender::attempt(const webhook_progress& p) {
  const auto& e = cache_.front();
  oldest_pending_->store(event_time(e));
  auto now = now_micros();
  auto t0 = steady_clock::now();
  auto result = poster_.post(e, now / 1000000);
  seconds_->observe(duration<double>(steady_clock::now() - t0).count());
  webhook_step out;
  out.progress = p;
  if (stop_ && result.result != verdict::delivered)
    return out; // aborted by the stop itself: no attempt to count
  out.store = true;
  auto give_up = [&](metrics::counter* why) {
    why->inc();
    dead_letters_->inc();
    webhook_dead_letter dead;
    dead.event_id = e.id;
    dead.event_type = e.type;
    dead.status = result.status;
    dead.error = result.error;
    out.dead = dead;
    log::warning(log_name, "webhook event dead-lettered",
                 {{"endpoint", cfg_.name},
                  {"event_id", std::to_string(e.id)},
                  {"type", e.type},
                  {"attempts", std::to_string(p.attempts + 1)},
                  {"error", result.error}});
  };
  bool done = true;
  if (result.result == verdict::delivered) {
    delivered_->inc();
  } else if (result.result == verdict::refused) {
    give_up(refused_);
  } else if (p.attempts + 1 >= static_cast<int64_t>(cfg_.max_attempts)) {
    give_up(exhausted_);
  } else {
    failed_->inc();
    done = false;
    out.progress.attempts = p.attempts + 1;
    wait_until_ = now_micros() + retry_delay(out.progress.attempts).count() * 1000;
    out.progress.next_attempt_at = json::iso8601_millis(wait_until_);
    out.progress.last_error = result.error;
    last_kind_ = step_kind::waiting;
    if (p.attempts == 0)
      log::warning(log_name, "webhook delivery failed; retrying with backoff",
                   {{"endpoint", cfg_.name},
                    {"event_id", std::to_string(e.id)},
                    {"error", result.error}});
  }
  if (done) {
    out.progress.last_event_id = e.id;
    out.progress.attempts = 0;
    out.progress.next_attempt_at.clear();
    out.progress.last_error.clear();
    cache_.pop_front();
    last_kind_ = step_kind::progressed;
    std::lock_guard<std::mutex> guard{mutex_};
    if (result.result == verdict::delivered)
      ++status_.delivered;
    else
      ++status_.dead_letters;
  }
  oldest_pending_->store(cache_.empty() ? 0 : event_time(cache_.front()));
  expected_last_ = out.progress.last_event_id;
  note(out.progress, out.progress.last_error);
  return out;
}

caf::expected<webhook_step> sender::step(store::database& db,
                                         const webhook_progress& p) {
  if (p.last_event_id != expected_last_) {
    // First step, or another instance delivered meanwhile.
    cache_.clear();
    read_to_ = p.last_event_id;
    expected_last_ = p.last_event_id;
  }
  note(p, p.last_error);
  if (!p.next_attempt_at.empty()) {
    auto at = parse_iso8601(p.next_attempt_at);
    if (at && *at > now_micros()) {
      wait_until_ = *at;
      last_kind_ = step_kind::waiting;
      return webhook_step{};
    }
  }
  if (cache_.empty()) {
    auto read = next_page(db, p);
    if (!read || cache_.empty())
      return read;
  }
  return attempt(p);
}

void sender::pause(milliseconds d) {
  std::unique_lock<std::mutex> lock{mutex_};
  cv_.wait_for(lock, d, [&] { return stop_.load(); });
}

void sender::wait_for_events(uint64_t seen) {
  if (signal_)
    signal_->wait(seen, poll_);
  else
    pause(poll_);
}

void sender::run() {
  log::info(log_name, "webhook delivery started",
            {{"endpoint", cfg_.name},
             {"types", cfg_.events.empty() ? std::string{"all"}
                                           : std::to_string(types_.size())}});
  while (!stop_) {
    uint64_t seen = signal_ ? signal_->generation() : 0;
    if (!ensure_db()) {
      pause(db_backoff_);
      db_backoff_ = std::min(db_backoff_ * 2, db_backoff_max);
      continue;
    }
    auto claimed = db_->claim_webhook(
        cfg_.name, [this](store::database& db, const webhook_progress& p) {
          return step(db, p);
        });
    if (!claimed) {
      log::warning(log_name, "webhook progress not readable or not stored; "
                             "retrying",
                   {{"endpoint", cfg_.name},
                    {"error", describe(claimed.error())}});
      if (store::is_unavailable(claimed.error()))
        db_.reset();
      // What was read may be stale now: read from the stored progress.
      expected_last_ = -1;
      pause(db_backoff_);
      db_backoff_ = std::min(db_backoff_ * 2, db_backoff_max);
      continue;
    }
    db_backoff_ = milliseconds{100};
    if (!*claimed) {
      {
        std::lock_guard<std::mutex> guard{mutex_};
        status_.claimed_elsewhere = true;
      }
      oldest_pending_->store(0);
      expected_last_ = -1;
      wait_for_events(seen);
      continue;
    }
    switch (last_kind_) {
      case step_kind::progressed:
        break;
      case step_kind::idle:
      case step_kind::busy:
        wait_for_events(seen);
        break;
      case step_kind::waiting: {
        auto left = (wait_until_ - now_micros()) / 1000;
        if (left > 0)
          pause(milliseconds{left});
        break;
      }
    }
  }
}

} // namespace sb::webhook
