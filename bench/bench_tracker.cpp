// Call tracker figures: correlator throughput over the 50-call burst capture
// repeated with fresh Linkedids / Uniqueids, and memory per live call with
// 10,000 calls in progress.

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/ami/codec.hpp"
#include "bench/bench.hpp"
#include "domain/call_correlator.hpp"
#include "tests/fixtures/capture.hpp"

namespace {

using namespace sb;

constexpr const char* burst = "dev-11-burst-50";

bool is_id_key(std::string_view key) {
  return iequals(key, "Uniqueid") || iequals(key, "Linkedid")
         || iequals(key, "DestUniqueid") || iequals(key, "DestLinkedid");
}

/// `1795299183.29` -> `1795299183.<29 + offset>`: ids stay realistic and
/// never collide between copies (the capture's counters stay below 1000).
std::string shifted_id(std::string_view id, long offset) {
  auto dot = id.find('.');
  if (dot == std::string_view::npos)
    return std::string{id};
  auto counter = std::stol(std::string{id.substr(dot + 1)});
  return std::string{id.substr(0, dot + 1)} + std::to_string(counter + offset);
}

/// Copy number `copy` of `events`: ids rewritten, arrival shifted.
std::vector<ami_event> make_copy(const std::vector<ami_event>& events, int copy,
                                 std::chrono::microseconds shift,
                                 bool keep_endings = true) {
  std::vector<ami_event> result;
  result.reserve(events.size());
  const long offset = static_cast<long>(copy) * 1000;
  std::string text;
  for (auto& e : events) {
    auto name = e.name();
    if (!keep_endings && (name == "Hangup" || name == "Cdr"))
      continue;
    text.clear();
    for (size_t i = 0; i < e.size(); ++i) {
      if (i > 0)
        text += "\r\n";
      text += e.key(i);
      text += ": ";
      if (is_id_key(e.key(i)))
        text += shifted_id(e.value(i), offset);
      else
        text += e.value(i);
    }
    auto& out = result.emplace_back();
    ami::parse_frame(text, out);
    out.pbx = e.pbx;
    out.received = e.received + shift;
  }
  return result;
}

size_t heap_in_use() {
  auto info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

} // namespace

SB_BENCH("tracker: correlator throughput (dev-11 burst, repeated)") {
  auto base = test::load_capture(burst);
  // 16 copies, each starting 5 s after the previous one: about ten copies
  // (500 calls) overlap at any time.
  const int copies = 16;
  std::vector<ami_event> events;
  for (int k = 0; k < copies; ++k) {
    auto copy = make_copy(base, k, std::chrono::seconds{5 * k});
    for (auto& e : copy)
      events.push_back(std::move(e));
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const ami_event& a, const ami_event& b) {
                     return a.received < b.received;
                   });
  // Cold: the events were parsed long ago (65 MB of them), every event is a
  // cache miss. Hot: each batch of 256 is copied just before the tracker
  // sees it, as when the parser has just produced it.
  for (bool hot : {false, true}) {
    std::vector<double> event_rates;
    std::vector<double> call_rates;
    size_t calls = 0;
    for (int run = 0; run < 7; ++run) {
      call_correlator correlator;
      std::vector<completed_call> out;
      out.reserve(copies * 50);
      double secs = 0;
      if (hot) {
        const size_t batch_size = 256;
        for (size_t i = 0; i < events.size(); i += batch_size) {
          std::vector<ami_event> batch(
              events.begin() + static_cast<ptrdiff_t>(i),
              events.begin()
                  + static_cast<ptrdiff_t>(
                      std::min(events.size(), i + batch_size)));
          auto t0 = std::chrono::steady_clock::now();
          for (auto& e : batch)
            correlator.on_event(e, out);
          secs += bench::seconds_since(t0);
        }
      } else {
        auto t0 = std::chrono::steady_clock::now();
        for (auto& e : events)
          correlator.on_event(e, out);
        secs = bench::seconds_since(t0);
      }
      auto t0 = std::chrono::steady_clock::now();
      correlator.finalize_stale(
          to_unix_micros(events.back().received) + 10'000'000, out);
      secs += bench::seconds_since(t0);
      calls = out.size();
      event_rates.push_back(static_cast<double>(events.size()) / secs);
      call_rates.push_back(static_cast<double>(out.size()) / secs);
    }
    std::printf("  %s: %zu events (%d copies of %zu), %zu calls completed "
                "per run (expected %d)\n",
                hot ? "hot batches of 256" : "cold (all events pre-parsed)",
                events.size(), copies, base.size(), calls, copies * 50);
    std::printf("    %.0f events/s median (min %.0f, max %.0f) = %.0f ns per "
                "event, %.0f calls/s\n",
                bench::median(event_rates), bench::percentile(event_rates, 0.0),
                bench::percentile(event_rates, 1.0),
                1e9 / bench::median(event_rates), bench::median(call_rates));
  }
}

SB_BENCH("tracker: memory per live call (10,000 live calls)") {
  auto base = test::load_capture(burst);
  const int copies = 200; // x 50 calls
  std::vector<double> rss_per_call;
  std::vector<double> heap_per_call;
  std::vector<double> counted_per_call;
  for (int run = 0; run < 3; ++run) {
    // One copy built up front so the event buffers of later copies reuse
    // its memory instead of counting as tracker growth.
    auto warm = make_copy(base, 0, std::chrono::seconds{0}, false);
    warm.clear();
    warm.shrink_to_fit();
    auto correlator = std::make_unique<call_correlator>();
    malloc_trim(0);
    auto rss0 = bench::current_rss_bytes();
    auto heap0 = heap_in_use();
    std::vector<completed_call> out;
    for (int k = 0; k < copies; ++k) {
      // Without Hangup / Cdr every call stays live with all its channels.
      auto copy = make_copy(base, k, std::chrono::seconds{0}, false);
      for (auto& e : copy)
        correlator->on_event(e, out);
    }
    malloc_trim(0);
    auto live = correlator->live_count();
    auto rss1 = bench::current_rss_bytes();
    auto heap1 = heap_in_use();
    rss_per_call.push_back(static_cast<double>(rss1 - rss0)
                           / static_cast<double>(live));
    heap_per_call.push_back(static_cast<double>(heap1 - heap0)
                            / static_cast<double>(live));
    counted_per_call.push_back(static_cast<double>(correlator->live_bytes())
                               / static_cast<double>(live));
    if (run == 0)
      std::printf("  live calls: %zu, completed meanwhile: %zu\n", live,
                  out.size());
  }
  std::printf("  per live call: %.0f B RSS delta, %.0f B heap in use "
              "(malloc), %.0f B counted structures (median of 3; goal < "
              "2048)\n",
              bench::median(rss_per_call), bench::median(heap_per_call),
              bench::median(counted_per_call));
}
