#pragma once

// Rings an event_signal whenever another session (any switchboard instance
// on the same PostgreSQL) commits events: a thread of its own holds one
// libpq connection in `LISTEN switchboard_events` and waits on its socket.
// A lost connection is re-opened with backoff (1 s doubling to 30 s); while
// it is down, readers fall back on their poll. The signal is also rung after
// every reconnect (notifications sent meanwhile are gone).

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "core/event_signal.hpp"

namespace sb::store {

class pg_listener {
public:
  /// Starts listening on `url` (a postgresql:// URL).
  pg_listener(std::string url, shared_event_signal signal);
  /// Stops the thread (within about 200 ms).
  ~pg_listener();

  pg_listener(const pg_listener&) = delete;
  pg_listener& operator=(const pg_listener&) = delete;

  /// True while the LISTEN connection is up.
  bool listening() const noexcept {
    return listening_.load();
  }

private:
  void run();

  std::string url_;
  shared_event_signal signal_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> listening_{false};
  std::thread thread_;
};

} // namespace sb::store
