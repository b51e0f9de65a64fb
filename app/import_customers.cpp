#include "app/import_customers.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include <caf/sec.hpp>

#include "adapters/phone/normalizer.hpp"
#include "adapters/store/database.hpp"
#include "core/log.hpp"
#include "http/read_pool.hpp"

namespace sb {

namespace {

/// Rows per transaction: big enough to make a large file fast, small enough
/// that a refused row costs little to isolate.
constexpr size_t chunk_size = 500;

} // namespace

caf::expected<customer_import_report>
import_customers(const std::string& csv_path, const std::string& db_url,
                 const std::string& default_region) {
  std::ifstream in{csv_path, std::ios::binary};
  if (!in)
    return caf::make_error(caf::sec::invalid_argument,
                           "cannot read " + csv_path);
  // Rows are read one at a time, so memory does not grow with the file.
  csv::customer_csv_reader reader{in};
  if (auto problem = reader.read_header(); !problem.empty())
    return caf::make_error(caf::sec::invalid_argument,
                           csv_path + ": " + problem);
  auto db = store::database::open(db_url);
  if (!db)
    return std::move(db.error());
  phone::normalizer phones{default_region};
  customer_import_report report;
  auto reject = [&report](size_t line, std::string reason) {
    ++report.rejected_total;
    if (report.rejected.size() < max_listed_rejections)
      report.rejected.push_back({line, std::move(reason)});
  };
  // Numbers seen earlier in this file, so one file cannot add a number twice.
  std::set<std::string> seen;
  std::vector<customer> batch;
  std::vector<size_t> batch_lines;
  auto flush = [&]() -> caf::expected<void> {
    if (batch.empty())
      return caf::unit;
    auto added = (*db)->add_customers(batch);
    if (added) {
      report.imported += added->size();
    } else if (store::is_unavailable(added.error())) {
      return caf::make_error(caf::sec::runtime_error,
                             "database unavailable after importing "
                                 + std::to_string(report.imported)
                                 + " rows: " + describe(added.error()));
    } else {
      // One row was refused and the transaction rolled back: add the rows one
      // by one to find it and keep the others.
      for (size_t i = 0; i < batch.size(); ++i) {
        auto one = (*db)->add_customer(batch[i]);
        if (one)
          ++report.imported;
        else if (store::is_unavailable(one.error()))
          return caf::make_error(caf::sec::runtime_error,
                                 "database unavailable after importing "
                                     + std::to_string(report.imported)
                                     + " rows: " + describe(one.error()));
        else
          reject(batch_lines[i],
                 "the database refused the row: " + describe(one.error()));
      }
    }
    batch.clear();
    batch_lines.clear();
    return caf::unit;
  };
  csv::customer_csv_row row;
  csv::customer_csv_rejection rejection;
  for (;;) {
    auto got = reader.next(row, rejection);
    if (got == csv::customer_csv_reader::item::end)
      break;
    if (got == csv::customer_csv_reader::item::rejected) {
      reject(rejection.line, std::move(rejection.reason));
      continue;
    }
    auto e164 = phones.to_e164(row.phone);
    if (e164.empty()) {
      reject(row.line, "phone '" + row.phone
                           + "' is not a dialable number (region "
                           + default_region + " for numbers without +country)");
      continue;
    }
    if (!seen.insert(e164).second) {
      reject(row.line, "phone " + e164 + " appears earlier in the file");
      continue;
    }
    auto existing = (*db)->find_customers_by_e164(e164);
    if (!existing)
      return caf::make_error(caf::sec::runtime_error,
                             "database unavailable after importing "
                                 + std::to_string(report.imported)
                                 + " rows: " + describe(existing.error()));
    if (!existing->empty()) {
      reject(row.line, "phone " + e164 + " already belongs to customer "
                           + std::to_string(existing->front().id) + " ("
                           + existing->front().name + ")");
      continue;
    }
    customer c;
    c.name = row.name;
    c.phone = row.phone;
    c.phone_e164 = e164;
    batch.push_back(std::move(c));
    batch_lines.push_back(row.line);
    if (batch.size() >= chunk_size)
      if (auto ok = flush(); !ok)
        return std::move(ok.error());
  }
  if (auto ok = flush(); !ok)
    return std::move(ok.error());
  std::sort(report.rejected.begin(), report.rejected.end(),
            [](const auto& a, const auto& b) { return a.line < b.line; });
  return report;
}

int run_import_customers(const app_config& cfg, const std::string& csv_path,
                         std::ostream& out, std::ostream& err) {
  auto report
      = import_customers(csv_path, cfg.db.url, cfg.phone.default_region);
  if (!report) {
    err << "import-customers: " << describe(report.error()) << '\n';
    return 1;
  }
  out << "imported " << report->imported << ", rejected "
      << report->rejected_total << '\n';
  for (auto& r : report->rejected)
    out << "line " << r.line << ": " << r.reason << '\n';
  if (report->rejected_total > report->rejected.size())
    out << "(" << report->rejected_total - report->rejected.size()
        << " more rejected rows not listed)\n";
  log::info("import_customers", "done",
            {{"imported", std::to_string(report->imported)},
             {"rejected", std::to_string(report->rejected_total)}});
  return report->rejected_total == 0 ? 0 : 2;
}

} // namespace sb
