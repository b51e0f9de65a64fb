#pragma once

// A bound on work handed downstream and not yet acknowledged: the producer
// charges what it hands on, the consumer releases it when done with it, and
// at the bound the producer waits until a release opens the gate again. One
// atomic add per batch on each side; the mutex is taken only around a wait.
// Thread-safe: producer and consumer live on different threads.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>

namespace sb {

class flow_gate {
public:
  explicit flow_gate(size_t max_units) : max_(max_units) {}

  flow_gate(const flow_gate&) = delete;
  flow_gate& operator=(const flow_gate&) = delete;

  /// Charged by the producer for what it hands on.
  void acquire(size_t units) noexcept {
    queued_.fetch_add(units);
  }

  /// The consumer is done with `units`; wakes a waiting producer once the
  /// gate is open again (on this thread).
  void release(size_t units) {
    auto before = queued_.load();
    // Never below zero, even after a reset() raced with a release.
    while (!queued_.compare_exchange_weak(before,
                                          before > units ? before - units : 0))
      ;
    if (waiting_.load() && open())
      wake();
  }

  /// The producer may hand on more.
  bool open() const noexcept {
    return queued_.load() < max_;
  }

  /// The producer's check before handing on more: true when open; else
  /// `resume` is kept and called once (from a releasing thread) when the
  /// gate opens, and the producer must not go on until then. A later
  /// wait() replaces an earlier waiter.
  bool wait(std::function<void()> resume) {
    if (open())
      return true;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      resume_ = std::move(resume);
      waiting_.store(true);
    }
    ++stalls_;
    // A release between the first check and the flag would be missed.
    if (!open())
      return false;
    std::lock_guard<std::mutex> guard{mutex_};
    if (!resume_)
      return false; // a releaser took it and calls it
    resume_ = nullptr;
    waiting_.store(false);
    return true;
  }

  /// Forgets every charge (its consumer died with what it held) and wakes
  /// a waiting producer.
  void reset() {
    queued_.store(0);
    if (waiting_.load())
      wake();
  }

  size_t queued() const noexcept {
    return queued_.load();
  }

  size_t max_units() const noexcept {
    return max_;
  }

  /// How often the producer had to wait.
  uint64_t stalls() const noexcept {
    return stalls_.load();
  }

private:
  void wake() {
    std::function<void()> resume;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      resume = std::move(resume_);
      resume_ = nullptr;
      waiting_.store(false);
    }
    if (resume)
      resume();
  }

  std::atomic<size_t> queued_{0};
  size_t max_;
  std::atomic<bool> waiting_{false};
  std::atomic<uint64_t> stalls_{0};
  std::mutex mutex_;
  std::function<void()> resume_;
};

} // namespace sb
