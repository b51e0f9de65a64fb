#pragma once

// A wake-up between threads that share no actor: the event log's writer
// rings it after each commit, the live stream and the webhook senders wait
// on it (with a timeout, so a missed ring costs at most one poll). Ringing
// never blocks beyond a short mutex hold.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace sb {

class event_signal {
public:
  /// Wakes every waiter.
  void ring() {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      ++generation_;
    }
    cv_.notify_all();
  }

  /// The generation to pass to wait(): read it before looking for work, so
  /// a ring between the look and the wait is not lost.
  uint64_t generation() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return generation_;
  }

  /// Waits until rung after `seen` (true) or `timeout` passed (false).
  bool wait(uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock{mutex_};
    return cv_.wait_for(lock, timeout, [&] { return generation_ != seen; });
  }

private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
};

using shared_event_signal = std::shared_ptr<event_signal>;

} // namespace sb
