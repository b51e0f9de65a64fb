// Event-log figures: what the `events` table grows by per call and what
// pruning it costs. The load is the recorded 50-call burst (dev-11)
// repeated with renumbered ids, through the whole server into SQLite.

#include <chrono>
#include <cstdio>
#include <string>

#include "adapters/ami/replay_server.hpp"
#include "adapters/store/database.hpp"
#include "bench/bench.hpp"
#include "tests/fixtures/e2e_harness.hpp"
#include "tests/fixtures/synthetic_capture.hpp"

namespace {

using namespace sb;

constexpr size_t copies = 20; // 1,000 calls

int64_t logged_events(store::database& db) {
  auto rows = db.events_after(0, 100000);
  if (!rows)
    return -1;
  int64_t n = 0;
  for (auto& e : *rows)
    n += e.type == "call.logged" ? 1 : 0;
  return n;
}

} // namespace

SB_BENCH("events: table bytes per call and pruning cost, SQLite") {
  log::set_level(log::level::warning);
  test::scratch_dir dir{"sb-bench-events"};
  test::repeat_options opts;
  opts.copies = copies;
  opts.drop_events = test::events_outside_call_cdr();
  auto capture = test::repeat_capture("dev-11-burst-50", opts);
  auto path = dir.file("burst.ami");
  test::write_capture(path, capture.bytes);
  ami::replay_options ropts;
  ropts.capture_path = path;
  auto pbx = ami::replay_server::start(ropts);
  if (!pbx) {
    std::printf("  replay server: %s\n", caf::to_string(pbx.error()).c_str());
    return;
  }
  auto url = "sqlite:" + dir.file("crm.db");
  auto reader = store::database::open(url);
  if (!reader)
    return;
  const auto calls = static_cast<int64_t>(capture.calls);
  {
    test::pipeline p{url, dir.file("spool"), **pbx, "pbx1"};
    test::wait_until([&] { return logged_events(**reader) >= calls; },
                     std::chrono::seconds{120}, std::chrono::milliseconds{20});
  }
  auto rows = (*reader)->events_after(0, 1000000);
  if (!rows)
    return;
  size_t text = 0;
  for (auto& e : *rows)
    text += e.type.size() + e.at.size() + e.origin.size() + e.call_id.size()
            + e.extension.size() + e.agent_id.size() + e.payload_json.size()
            + 16;
  std::printf("  %lld calls -> %zu events (%.2f per call), %.0f bytes of "
              "column data per call (%.0f per event; row headers and the "
              "at index come on top)\n",
              static_cast<long long>(calls), rows->size(),
              static_cast<double>(rows->size()) / static_cast<double>(calls),
              static_cast<double>(text) / static_cast<double>(calls),
              static_cast<double>(text) / static_cast<double>(rows->size()));
  // Pruning: every row is older than a cutoff in the future.
  auto t0 = std::chrono::steady_clock::now();
  auto pruned = (*reader)->prune_events("9999-01-01T00:00:00.000Z");
  auto took = bench::seconds_since(t0);
  if (pruned)
    std::printf("  pruning %lld events: %.1f ms (%.2f us per event, in "
                "transactions of 5,000)\n",
                static_cast<long long>(*pruned), took * 1000,
                took * 1e6 / static_cast<double>(std::max<int64_t>(1, *pruned)));
}
