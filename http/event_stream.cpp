#include "http/event_stream.hpp"

#include <algorithm>

#include "adapters/json/event_json.hpp"
#include "core/db_url.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace sb::http {

namespace {

constexpr const char* log_name = "event_stream";
/// Events read per query, for the live tail and for each catching-up
/// subscriber.
constexpr size_t page = 500;
/// While someone catches up, look again this soon (its socket drains).
constexpr std::chrono::milliseconds catch_up_pause{5};

using clock_type = std::chrono::steady_clock;

} // namespace

bool event_filter::matches(const stored_event& e) const {
  if (!types.empty() && types.count(e.type) == 0)
    return false;
  if (!extension.empty() && e.extension != extension)
    return false;
  if (!agent.empty() && e.agent_id != agent)
    return false;
  if (customer_id && (!e.customer_id || *e.customer_id != *customer_id))
    return false;
  return true;
}

std::string sse_frame(const stored_event& e) {
  std::string out = "id: " + std::to_string(e.id) + "\nevent: " + e.type
                    + "\ndata: ";
  // JSON text never holds a raw line break, so one data line carries it.
  out += json::event_json(e);
  out += "\n\n";
  return out;
}

struct event_hub::subscriber {
  std::shared_ptr<stream> out;
  event_filter filter;
  /// The last id this subscriber has been given (or skipped as filtered).
  int64_t cursor = -1;
  /// Resuming from the table until its cursor reaches the live head.
  bool catching_up = false;
  clock_type::time_point last_sent = clock_type::now();
  /// When its buffer last had room or drained.
  clock_type::time_point progress_at = clock_type::now();
  size_t last_queued = 0;
};

event_hub::event_hub(event_hub_options opts, shared_event_signal signal)
    : opts_(std::move(opts)), signal_(std::move(signal)) {
  if (!signal_)
    signal_ = std::make_shared<event_signal>();
  if (is_postgres_url(opts_.db_url))
    listener_ = std::make_unique<store::pg_listener>(opts_.db_url, signal_);
  auto& reg = metrics::global();
  subscribers_ = &reg.get_gauge("switchboard_events_subscribers",
                                "Open GET /api/events streams.");
  overflows_ = &reg.get_counter(
      "switchboard_events_stream_overflows_total",
      "Event stream subscribers dropped because they did not keep up.");
  sent_ = &reg.get_counter("switchboard_events_sent_total",
                           "Events written to event stream subscribers.");
  thread_ = std::thread{[this] { run(); }};
}

event_hub::~event_hub() {
  stop_ = true;
  signal_->ring();
  if (thread_.joinable())
    thread_.join();
  listener_.reset();
}

void event_hub::subscribe(std::shared_ptr<stream> s, event_filter filter,
                          std::optional<int64_t> after) {
  subscriber sub;
  sub.out = std::move(s);
  sub.filter = std::move(filter);
  sub.cursor = after ? std::max<int64_t>(0, *after) : -1;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    incoming_.push_back(std::move(sub));
  }
  signal_->ring();
}

bool event_hub::ensure_db() {
  if (db_)
    return true;
  auto db = store::database::open(opts_.db_url);
  if (!db) {
    log::warning(log_name, "cannot open the database for the event stream",
                 {{"error", describe(db.error())}});
    return false;
  }
  db_ = std::move(*db);
  return true;
}

size_t event_hub::room(const subscriber& sub) const {
  auto queued = sub.out->queued();
  return queued >= opts_.buffer_bytes ? 0 : opts_.buffer_bytes - queued;
}

bool event_hub::deliver(subscriber& sub, std::string chunk) {
  if (sub.out->push(std::move(chunk))) {
    sub.last_sent = clock_type::now();
    return true;
  }
  return false;
}

void event_hub::drop(subscriber& sub) {
  // Its buffer stayed full: it cannot keep up. One last word, then gone;
  // it resumes from its last id.
  overflows_->inc();
  sub.out->push_last("event: stream.overflow\ndata: {\"type\":"
                     "\"stream.overflow\",\"last_id\":"
                     + std::to_string(sub.cursor) + "}\n\n");
  log::info(log_name, "event stream subscriber dropped: not reading fast "
                      "enough",
            {{"last_id", std::to_string(sub.cursor)}});
}

void event_hub::admit(std::vector<subscriber>& subs) {
  std::vector<subscriber> fresh;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    fresh.swap(incoming_);
  }
  for (auto& sub : fresh) {
    if (sub.cursor < 0)
      sub.cursor = head_; // from now on
    sub.catching_up = sub.cursor < head_;
    subs.push_back(std::move(sub));
  }
}

bool event_hub::fan_out(std::vector<subscriber>& subs) {
  auto batch = db_->events_after(head_, page);
  if (!batch) {
    log::warning(log_name, "cannot read new events",
                 {{"error", describe(batch.error())}});
    if (store::is_unavailable(batch.error()))
      db_.reset();
    return false;
  }
  if (batch->empty())
    return false;
  std::vector<std::string> frames;
  frames.reserve(batch->size());
  for (auto& e : *batch)
    frames.push_back(sse_frame(e));
  auto last = batch->back().id;
  for (auto& sub : subs) {
    if (sub.catching_up || !sub.out->open())
      continue;
    std::string chunk;
    size_t n = 0;
    // A subscriber may already have ids beyond our head (it resumed with an
    // id another instance's stream gave it before we read that far).
    for (size_t i = 0; i < batch->size(); ++i)
      if ((*batch)[i].id > sub.cursor && sub.filter.matches((*batch)[i])) {
        chunk += frames[i];
        ++n;
      }
    if (!chunk.empty()) {
      // No room for all of it: it reads this from the table at its pace.
      if (chunk.size() > room(sub) || !deliver(sub, std::move(chunk))) {
        sub.catching_up = true;
        continue;
      }
    }
    sent_->inc(static_cast<double>(n));
    sub.cursor = std::max(sub.cursor, last);
  }
  head_ = last;
  return batch->size() == page;
}

void event_hub::catch_up(std::vector<subscriber>& subs) {
  auto now = clock_type::now();
  for (auto& sub : subs) {
    if (!sub.catching_up || !sub.out->open())
      continue;
    // Only while its socket keeps draining: no more than fits its buffer.
    auto space = room(sub);
    auto queued = sub.out->queued();
    if (space < opts_.buffer_bytes / 2) {
      if (queued < sub.last_queued)
        sub.progress_at = now;
      sub.last_queued = queued;
      if (now - sub.progress_at > opts_.stall)
        drop(sub);
      continue;
    }
    sub.progress_at = now;
    sub.last_queued = queued;
    auto batch = db_->events_after(sub.cursor, page);
    if (!batch)
      return;
    std::string chunk;
    size_t n = 0;
    bool full = false;
    for (auto& e : *batch) {
      if (e.id > head_)
        break; // the live fan-out brings the rest
      if (sub.filter.matches(e)) {
        auto frame = sse_frame(e);
        if (!chunk.empty() && chunk.size() + frame.size() > space) {
          full = true;
          break;
        }
        chunk += frame;
        ++n;
      }
      sub.cursor = e.id;
    }
    // Every event up to the head was in this page: caught up.
    if (!full && (batch->size() < page || batch->back().id >= head_))
      sub.cursor = std::max(sub.cursor, head_);
    if (!chunk.empty() && !deliver(sub, std::move(chunk)))
      continue;
    sent_->inc(static_cast<double>(n));
    sub.catching_up = sub.cursor < head_;
  }
}

void event_hub::heartbeat(std::vector<subscriber>& subs) {
  auto now = clock_type::now();
  for (auto& sub : subs)
    if (sub.out->open() && now - sub.last_sent >= opts_.heartbeat)
      deliver(sub, ": keep-alive\n\n");
}

void event_hub::run() {
  std::vector<subscriber> subs;
  while (!stop_) {
    auto seen = signal_->generation();
    if (ensure_db()) {
      if (head_ < 0) {
        auto last = db_->last_event_id();
        if (last)
          head_ = *last;
      }
      if (head_ >= 0) {
        admit(subs);
        while (!stop_ && fan_out(subs)) {
        }
        if (db_)
          catch_up(subs);
      }
    }
    heartbeat(subs);
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [](const subscriber& s) {
                                return !s.out->open();
                              }),
               subs.end());
    count_ = subs.size();
    subscribers_->set(static_cast<double>(subs.size()));
    bool busy = std::any_of(subs.begin(), subs.end(), [](const subscriber& s) {
      return s.catching_up;
    });
    auto wait = busy ? catch_up_pause : opts_.poll;
    signal_->wait(seen, std::min(wait, opts_.heartbeat));
  }
  for (auto& sub : subs)
    sub.out->close();
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& sub : incoming_)
    sub.out->close();
}

} // namespace sb::http
