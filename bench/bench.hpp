#pragma once

// A tiny benchmark harness: each bench/bench_<area>.cpp registers cases with
// SB_BENCH; `bench` runs them all (or those whose name contains argv[1]) and
// each case prints its own figures. Report medians: the machine is shared.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace sb::bench {

struct bench_case {
  std::string name;
  std::function<void()> run;
};

inline std::vector<bench_case>& cases() {
  static std::vector<bench_case> instance;
  return instance;
}

struct registrar {
  registrar(std::string name, std::function<void()> run) {
    cases().push_back({std::move(name), std::move(run)});
  }
};

/// Median of `values` (copied, sorted).
inline double median(std::vector<double> values) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  auto n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/// Value at quantile q (0..1) of `values` (copied, sorted).
inline double percentile(std::vector<double> values, double q) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  auto idx = static_cast<size_t>(q * static_cast<double>(values.size() - 1));
  return values[idx];
}

/// Peak resident set size of this process so far, in bytes (VmHWM).
size_t peak_rss_bytes();

/// Current resident set size in bytes (VmRSS).
size_t current_rss_bytes();

/// Lets peak_rss_bytes() measure from now on (the peak becomes the current
/// RSS), so one case's peak is not an earlier case's.
void reset_peak_rss();

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
    .count();
}

} // namespace sb::bench

#define SB_BENCH_CAT2(a, b) a##b
#define SB_BENCH_CAT(a, b) SB_BENCH_CAT2(a, b)
#define SB_BENCH(name)                                                         \
  static void SB_BENCH_CAT(sb_bench_fn_, __LINE__)();                          \
  static ::sb::bench::registrar SB_BENCH_CAT(sb_bench_reg_, __LINE__){        \
    name, &SB_BENCH_CAT(sb_bench_fn_, __LINE__)};                              \
  static void SB_BENCH_CAT(sb_bench_fn_, __LINE__)()
