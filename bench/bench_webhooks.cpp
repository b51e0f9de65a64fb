// Webhook deliveries per second to a local receiver (signatures checked by
// it), one endpoint, on SQLite and (with SB_TEST_PG_URL) PostgreSQL: the
// sender reads the table, signs, POSTs over a kept-alive connection and
// stores its progress after every 2xx.

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "adapters/json/row_json.hpp"
#include "adapters/store/database.hpp"
#include "adapters/webhook/sender.hpp"
#include "bench/bench.hpp"
#include "tests/fixtures/e2e_harness.hpp"
#include "tests/fixtures/temp_dir.hpp"
#include "tests/fixtures/wait.hpp"
#include "tests/fixtures/webhook_receiver.hpp"

namespace {

using namespace std::chrono_literals;

constexpr int events_per_run = 2000;

/// One run: the events are in the table before the sender is woken; the
/// figure is the time until the receiver accepted the last one.
double deliveries_per_second(const std::string& url) {
  sb::test::webhook_receiver receiver{"bench-secret"};
  auto db = sb::store::database::open(url);
  if (!db) {
    std::printf("  cannot open %s\n", url.c_str());
    return 0;
  }
  auto signal = std::make_shared<sb::event_signal>();
  sb::webhook_config cfg;
  cfg.name = "bench";
  cfg.url = receiver.url();
  cfg.secret = "bench-secret";
  auto sender = std::make_unique<sb::webhook::sender>(url, cfg, signal, 1000ms);
  (*db)->ensure_webhook("bench");
  std::vector<sb::stored_event> batch;
  for (int i = 0; i < events_per_run; ++i) {
    sb::stored_event e;
    e.type = "call.ringing";
    e.at = sb::json::iso8601_millis(sb::now_micros());
    e.origin = "pbx1";
    e.call_id = "bench-" + std::to_string(i);
    e.payload_json = R"({"call_id":"bench-)" + std::to_string(i)
                     + R"(","origin":"pbx1","direction":"inbound",)"
                       R"("external_number":"+442071234567","did":"",)"
                       R"("extensions":["1001"],"customer":null})";
    batch.push_back(std::move(e));
  }
  if (!(*db)->append_events(batch))
    return 0;
  auto t0 = std::chrono::steady_clock::now();
  signal->ring();
  sb::test::wait_until(
      [&] { return receiver.accepted_total() >= events_per_run; }, 120s,
      std::chrono::milliseconds{1});
  auto seconds = sb::bench::seconds_since(t0);
  if (receiver.accepted_total() < events_per_run || receiver.unverified() > 0)
    std::printf("  incomplete run: %zu accepted, %zu unverified\n",
                receiver.accepted_total(), receiver.unverified());
  return static_cast<double>(receiver.accepted_total()) / seconds;
}

void report(const char* label, const std::function<std::string()>& fresh_url) {
  std::vector<double> rates;
  for (int run = 0; run < 3; ++run)
    rates.push_back(deliveries_per_second(fresh_url()));
  std::printf("  %-10s %d events/run: %.0f deliveries/s (median of 3: %.0f, "
              "%.0f, %.0f)\n",
              label, events_per_run, sb::bench::median(rates), rates[0],
              rates[1], rates[2]);
}

} // namespace

SB_BENCH("webhooks: deliveries per second to a local receiver") {
  std::vector<std::unique_ptr<sb::test::scratch_dir>> dirs;
  report("sqlite", [&] {
    dirs.push_back(std::make_unique<sb::test::scratch_dir>("sb-bench-hooks"));
    return "sqlite:" + dirs.back()->file("hooks.db");
  });
  if (sb::test::test_pg_url().empty()) {
    std::printf("  postgresql: skipped (SB_TEST_PG_URL not set)\n");
    return;
  }
  std::vector<std::unique_ptr<sb::test::pg_scratch_database>> pgs;
  report("postgresql", [&] {
    pgs.push_back(std::make_unique<sb::test::pg_scratch_database>("sb_bench_hooks"));
    return pgs.back()->url();
  });
}
