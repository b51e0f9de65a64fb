// The CDR catch-up: 100,000 CDR rows (the 50-call burst's rows, repeated
// with fresh linkedids and times) in a real MariaDB (SB_TEST_MYSQL_URL,
// tests/with-databases.sh), read back, built into calls (rows read/s) and
// written into a fresh SQLite comms log (calls written/s).

#include "bench/bench.hpp"

#include <cstdlib>

#include <soci/soci.h>

#include "adapters/cdr/cdr_database.hpp"
#include "adapters/store/database.hpp"
#include "tests/fixtures/cdr_support.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace {

using namespace sb;

constexpr size_t target_rows = 100000;
constexpr unix_micros second = 1'000'000;

/// The burst's rows, copy k shifted by k hours, ids suffixed by k.
std::vector<cdr_record> synthetic_rows() {
  auto base = test::load_cdr_csv("dev-11-burst-50");
  std::vector<cdr_record> out;
  out.reserve(target_rows);
  for (size_t k = 0; out.size() < target_rows; ++k)
    for (const auto& r : base) {
      if (out.size() == target_rows)
        break;
      auto x = r;
      x.start += static_cast<unix_micros>(k) * 3600 * second;
      x.linkedid += "-" + std::to_string(k);
      x.uniqueid += "-" + std::to_string(k);
      out.push_back(std::move(x));
    }
  return out;
}

/// Rows the batch added; 0 when the write failed (said).
size_t write_all(store::database& db, const std::vector<matched_call>& batch) {
  auto n = db.write_calls(batch);
  if (!n) {
    std::printf("  write failed: %s\n", caf::to_string(n.error()).c_str());
    return 0;
  }
  return static_cast<size_t>(*n);
}

} // namespace

SB_BENCH("cdr: catch-up of 100,000 CDR rows (rows read/s, calls written/s)") {
  const char* url = std::getenv("SB_TEST_MYSQL_URL");
  if (url == nullptr || *url == '\0') {
    std::printf("  skipped: SB_TEST_MYSQL_URL not set (run through "
                "tests/with-databases.sh)\n");
    return;
  }
  auto rows = synthetic_rows();
  {
    auto session = test::fresh_cdr_table(url);
    test::insert_cdr_rows(*session, rows);
  }
  pbx_config pbx;
  pbx.name = "bench";
  std::vector<double> read_rates;
  std::vector<double> build_rates;
  std::vector<double> write_rates;
  for (int run = 0; run < 5; ++run) {
    auto db = cdr::database::open(url, cdr::open_options{});
    if (!db) {
      std::printf("  open failed: %s\n", caf::to_string(db.error()).c_str());
      return;
    }
    auto t0 = std::chrono::steady_clock::now();
    auto got = (*db)->calls_between(0, rows.back().start + 86400 * second);
    auto read_s = bench::seconds_since(t0);
    if (!got || got->size() != rows.size()) {
      std::printf("  read failed\n");
      return;
    }
    auto t1 = std::chrono::steady_clock::now();
    auto calls = calls_from_cdr(std::move(*got), pbx);
    auto build_s = bench::seconds_since(t1);
    test::scratch_dir dir{"sb-bench-cdr"};
    auto store = store::database::open("sqlite:" + dir.file("crm.db"));
    if (!store)
      return;
    std::vector<matched_call> batch;
    auto t2 = std::chrono::steady_clock::now();
    size_t written = 0;
    for (auto& c : calls) {
      batch.push_back(matched_call{std::move(c), caf::none, ""});
      if (batch.size() == 1000) {
        written += write_all(**store, batch);
        batch.clear();
      }
    }
    written += write_all(**store, batch);
    auto write_s = bench::seconds_since(t2);
    read_rates.push_back(static_cast<double>(rows.size()) / read_s);
    build_rates.push_back(static_cast<double>(rows.size()) / build_s);
    write_rates.push_back(static_cast<double>(written) / write_s);
    std::printf("  run %d: %zu rows read in %.3f s, built in %.3f s, %zu calls "
                "written in %.3f s\n",
                run, rows.size(), read_s, build_s, written, write_s);
  }
  std::printf("  median: %.0f rows read/s (MariaDB), %.0f rows built/s, "
              "%.0f calls written/s (SQLite)\n",
              bench::median(read_rates), bench::median(build_rates),
              bench::median(write_rates));
}
