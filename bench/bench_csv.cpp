// `switchboard import-customers` on files it may be handed: 100,000 ordinary
// rows, and 16 MiB of nothing but commas (one record with 16 million empty
// fields). Prints rows/s and how far the peak RSS rose above where it
// started: the reader streams, so the second figure must not grow with the
// file.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "app/import_customers.hpp"
#include "bench/bench.hpp"
#include "tests/fixtures/temp_dir.hpp"

namespace {

constexpr int runs = 3;

struct import_figures {
  double seconds = 0;
  size_t imported = 0;
  size_t rejected = 0;
  double peak_rise_mib = 0;
};

import_figures import_once(const std::string& csv, const std::string& db) {
  sb::bench::reset_peak_rss();
  auto base = sb::bench::current_rss_bytes();
  auto t0 = std::chrono::steady_clock::now();
  auto report = sb::import_customers(csv, "sqlite:" + db, "GB");
  import_figures f;
  f.seconds = sb::bench::seconds_since(t0);
  if (report) {
    f.imported = report->imported;
    f.rejected = report->rejected_total;
  } else {
    std::printf("  import failed: %s\n", to_string(report.error()).c_str());
  }
  f.peak_rise_mib
    = static_cast<double>(sb::bench::peak_rss_bytes() - base) / (1 << 20);
  return f;
}

void write_rows(const std::string& path, int rows) {
  std::ofstream out{path};
  out << "name,phone\n";
  for (int i = 0; i < rows; ++i)
    out << "Customer " << i << ",+44 20 7" << (1000000 + i) << '\n';
}

void write_commas(const std::string& path, size_t bytes) {
  std::ofstream out{path};
  out << "name,phone\n";
  std::string chunk(1 << 20, ',');
  for (size_t written = 0; written < bytes; written += chunk.size())
    out << chunk;
  out << '\n';
}

} // namespace

SB_BENCH("csv import") {
  sb::test::scratch_dir scratch{"sb-bench-csv"};
  auto dir = scratch.path().string();
  write_rows(dir + "/rows.csv", 100000);
  write_commas(dir + "/commas.csv", 16u << 20);
  std::vector<double> rates, row_peaks, comma_peaks, comma_seconds;
  for (int r = 0; r < runs; ++r) {
    // A fresh database each run: a second import of the same file would
    // only reject duplicates. The commas go first, against the lowest base.
    auto commas = import_once(dir + "/commas.csv",
                              dir + "/commas-" + std::to_string(r) + ".db");
    std::printf("  16 MiB of commas run %d: %zu rejected in %.2f s,"
                " peak RSS +%.1f MiB\n",
                r + 1, commas.rejected, commas.seconds, commas.peak_rise_mib);
    comma_peaks.push_back(commas.peak_rise_mib);
    comma_seconds.push_back(commas.seconds);
    auto rows = import_once(dir + "/rows.csv",
                            dir + "/rows-" + std::to_string(r) + ".db");
    std::printf("  100,000 rows run %d: %zu imported, %.0f rows/s,"
                " peak RSS +%.1f MiB\n",
                r + 1, rows.imported, rows.imported / rows.seconds,
                rows.peak_rise_mib);
    rates.push_back(rows.imported / rows.seconds);
    row_peaks.push_back(rows.peak_rise_mib);
  }
  // The allocator keeps what the first run freed, so later runs rise less:
  // the largest rise is the figure.
  std::printf("  median: %.0f rows/s, 16 MiB of commas refused in %.2f s;"
              " largest peak RSS rise: rows +%.1f MiB, commas +%.1f MiB\n",
              sb::bench::median(rates), sb::bench::median(comma_seconds),
              *std::max_element(row_peaks.begin(), row_peaks.end()),
              *std::max_element(comma_peaks.begin(), comma_peaks.end()));
}
