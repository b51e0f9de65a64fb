#pragma once

// Exponential backoff with jitter, in one copy for every retry loop: PBX
// reconnects, database retries, index reloads, CloudAgent requests.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace sb {

class backoff {
public:
  using duration = std::chrono::milliseconds;

  /// Delays start at `initial` and double up to `max`. Each is drawn from
  /// [(1 - jitter) * d, d], so peers that failed together do not retry in
  /// lockstep, and the delay still grows.
  backoff(duration initial, duration max, double jitter = 0.0,
          uint64_t seed = std::random_device{}())
      : initial_(initial), max_(std::max(initial, max)),
        jitter_(std::clamp(jitter, 0.0, 1.0)), next_(initial), rng_(seed) {}

  /// The delay to wait now; the one after it doubles.
  duration next() {
    auto d = next_;
    next_ = std::min(max_, next_ * 2);
    if (jitter_ <= 0.0)
      return d;
    std::uniform_real_distribution<double> spread{1.0 - jitter_, 1.0};
    return duration{static_cast<duration::rep>(static_cast<double>(d.count())
                                               * spread(rng_))};
  }

  /// The delay the next call to next() starts from (before jitter).
  duration peek() const noexcept {
    return next_;
  }

  /// Starts again from `initial` (after a success).
  void reset() noexcept {
    next_ = initial_;
  }

  duration initial() const noexcept {
    return initial_;
  }

  duration max() const noexcept {
    return max_;
  }

private:
  duration initial_;
  duration max_;
  double jitter_;
  duration next_;
  std::mt19937_64 rng_;
};

} // namespace sb
