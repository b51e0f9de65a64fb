#pragma once

// The live event stream behind GET /api/events (Server-Sent Events): one
// thread tails the `events` table and fans new events out to every
// subscriber's stream; no thread is held per subscriber.
//
// - The tail is woken by this process's appends and, on PostgreSQL, by
//   NOTIFY from any instance sharing the database (store::pg_listener), and
//   reads at least every `poll` as a fallback; so a subscriber on any
//   instance sees the events of all of them.
// - A subscriber that resumes (Last-Event-ID or since=) is served from the
//   table, page by page at the pace its connection drains, then joins the
//   live fan-out: it misses nothing that is still retained.
// - Each subscriber's unsent bytes are bounded (the stream's buffer). A
//   subscriber whose buffer is full is served from the table at the pace
//   its socket drains (a burst does not drop it); one whose buffer stays
//   full for `stall` gets a final `stream.overflow` event and is closed; it
//   reconnects from its last id. Pushing never blocks, so a stalled client
//   never slows the others or the pipeline.
// - `: keep-alive` comments every `heartbeat` keep proxies from closing an
//   idle stream.
//
// Metrics: switchboard_events_subscribers,
// switchboard_events_stream_overflows_total, switchboard_events_sent_total.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/metrics/registry.hpp"
#include "adapters/store/database.hpp"
#include "adapters/store/pg_listener.hpp"
#include "core/event_signal.hpp"
#include "http/message.hpp"
#include "messages/events.hpp"

namespace sb::http {

struct event_filter {
  /// Empty = every type.
  std::set<std::string> types;
  std::string extension;
  std::string agent;
  std::optional<int64_t> customer_id;

  bool matches(const stored_event& e) const;
};

struct event_hub_options {
  std::string db_url;
  std::chrono::milliseconds heartbeat{15000};
  std::chrono::milliseconds poll{1000};
  /// Unsent bytes one subscriber may have (its stream's buffer).
  size_t buffer_bytes = 256 * 1024;
  /// A subscriber whose buffer stays full this long without draining is
  /// dropped (below the engine's write timeout, so the overflow notice is
  /// still written).
  std::chrono::milliseconds stall{5000};
};

/// One event as SSE text: `id:`, `event:`, `data:` lines and a blank line.
std::string sse_frame(const stored_event& e);

class event_hub {
public:
  event_hub(event_hub_options opts, shared_event_signal signal);
  /// Closes every stream and stops the thread.
  ~event_hub();

  event_hub(const event_hub&) = delete;
  event_hub& operator=(const event_hub&) = delete;

  /// Adds a subscriber: events after `after` (from the table), or from now
  /// when none. Safe from any thread; returns at once.
  void subscribe(std::shared_ptr<stream> s, event_filter filter,
                 std::optional<int64_t> after);

  size_t subscribers() const noexcept {
    return count_.load();
  }

private:
  struct subscriber;

  void run();
  void admit(std::vector<subscriber>& subs);
  bool fan_out(std::vector<subscriber>& subs);
  void catch_up(std::vector<subscriber>& subs);
  void heartbeat(std::vector<subscriber>& subs);
  bool deliver(subscriber& sub, std::string chunk);
  void drop(subscriber& sub);
  size_t room(const subscriber& sub) const;
  bool ensure_db();

  event_hub_options opts_;
  shared_event_signal signal_;
  std::unique_ptr<store::pg_listener> listener_;
  std::unique_ptr<store::database> db_;
  /// The last id read for the live fan-out (-1 = not yet known).
  int64_t head_ = -1;
  mutable std::mutex mutex_;
  std::vector<subscriber> incoming_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> count_{0};
  metrics::gauge* subscribers_ = nullptr;
  metrics::counter* overflows_ = nullptr;
  metrics::counter* sent_ = nullptr;
  std::thread thread_;
};

} // namespace sb::http
