// The metrics registry sits on every actor's hot path (one message_probe per
// handled message), so its per-update cost must stay a few nanoseconds.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "adapters/metrics/registry.hpp"
#include "bench/bench.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

constexpr int runs = 5;
constexpr int ops = 5'000'000;

/// Median ns per operation of `op` run `ops` times on each of `threads`
/// threads started together (ns = wall time / ops per thread).
template <class Op>
double ns_per_op(int threads, Op op) {
  std::vector<double> samples;
  for (int r = 0; r < runs; ++r) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&] {
        ready.fetch_add(1);
        while (!go.load())
          std::this_thread::yield();
        for (int i = 0; i < ops; ++i)
          op(i);
      });
    while (ready.load() < threads)
      std::this_thread::yield();
    auto t0 = clock_type::now();
    go = true;
    for (auto& w : workers)
      w.join();
    samples.push_back(sb::bench::seconds_since(t0) * 1e9 / ops);
  }
  return sb::bench::median(samples);
}

void report(const char* what, int threads, double ns) {
  std::printf("  %-34s %d thread%s  %7.2f ns/op  (%.1f M ops/s per thread)\n",
              what, threads, threads == 1 ? " " : "s", ns, 1e3 / ns);
}

} // namespace

SB_BENCH("metrics") {
  sb::metrics::registry reg;
  auto& hits = reg.get_counter("bench_hits_total", "Hits.");
  auto& latency = reg.get_histogram("bench_latency_seconds", "Latency.");
  auto& actor = reg.actor("bench_actor");
  std::printf("  median of %d runs, %d ops per thread\n", runs, ops);
  for (int threads : {1, 2}) {
    report("counter inc (shared series)", threads,
           ns_per_op(threads, [&](int) { hits.inc(); }));
    report("histogram observe (shared series)", threads,
           ns_per_op(threads, [&](int i) {
             latency.observe(static_cast<double>(i & 1023) * 1e-6);
           }));
    report("message_probe (actor series)", threads,
           ns_per_op(threads, [&](int i) {
             sb::metrics::message_probe probe{actor,
                                              static_cast<size_t>(i & 15)};
           }));
  }
  // Lookups take the registry lock: callers keep the reference instead.
  report("get_counter lookup (mutex)", 1, ns_per_op(1, [&](int) {
           reg.get_counter("bench_hits_total", "Hits.");
         }));

  // Scrape cost with a realistic number of series.
  for (int a = 0; a < 20; ++a)
    reg.actor("actor_" + std::to_string(a));
  for (int e = 0; e < 100; ++e)
    reg.get_counter("bench_events_total", "Events.",
                    {{"pbx", "main"}, {"event", "E" + std::to_string(e)}})
      .inc();
  std::vector<double> render_us;
  size_t bytes = 0;
  for (int r = 0; r < runs * 4; ++r) {
    auto t0 = clock_type::now();
    bytes = reg.render().size();
    render_us.push_back(sb::bench::seconds_since(t0) * 1e6);
  }
  std::printf("  render(): %.0f us for a %zu-byte page (median of %d)\n",
              sb::bench::median(render_us), bytes, runs * 4);
}
