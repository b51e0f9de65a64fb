#pragma once

// How often a supervisor may restart one child before it gives up: a child
// that dies now and then is restarted; one that keeps dying is a defect that
// restarting cannot fix, and the process should end so that its service
// manager (systemd, a container runtime) restarts it whole and an operator
// hears of it.

#include <chrono>
#include <cstddef>
#include <deque>

namespace sb {

class restart_budget {
public:
  using clock = std::chrono::steady_clock;

  explicit restart_budget(size_t max_restarts = 5,
                          std::chrono::seconds window = std::chrono::seconds{60})
      : max_(max_restarts), window_(window) {}

  /// Records a restart at `now`. False when it is one too many: more than
  /// `max_restarts` within the window.
  bool allow(clock::time_point now) {
    while (!times_.empty() && now - times_.front() > window_)
      times_.pop_front();
    times_.push_back(now);
    return times_.size() <= max_;
  }

  size_t max_restarts() const noexcept {
    return max_;
  }

  std::chrono::seconds window() const noexcept {
    return window_;
  }

private:
  size_t max_;
  std::chrono::seconds window_;
  std::deque<clock::time_point> times_;
};

} // namespace sb
