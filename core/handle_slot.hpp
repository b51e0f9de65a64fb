#pragma once

// The current handle of an actor that a supervisor may replace: whoever
// sends to it from outside the actor system (an HTTP worker thread) reads
// the slot at each use, the supervisor swaps in the restarted actor. Copies
// of the shared_ptr see the same slot.

#include <memory>
#include <mutex>
#include <utility>

namespace sb {

template <class Handle>
class handle_slot {
public:
  handle_slot() = default;

  explicit handle_slot(Handle initial) : handle_(std::move(initial)) {}

  Handle get() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return handle_;
  }

  void set(Handle next) {
    std::lock_guard<std::mutex> guard{mutex_};
    handle_ = std::move(next);
  }

private:
  mutable std::mutex mutex_;
  Handle handle_;
};

template <class Handle>
using shared_handle = std::shared_ptr<handle_slot<Handle>>;

template <class Handle>
shared_handle<Handle> make_shared_handle(Handle initial) {
  return std::make_shared<handle_slot<Handle>>(std::move(initial));
}

} // namespace sb
