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

caf::error unavailable_after(size_t imported, const caf::error& err) {
  return caf::make_error(caf::sec::runtime_error,
                         "database unavailable after importing "
                             + std::to_string(imported)
                             + " rows: " + describe(err));
}

/// Checks rows one by one and adds the good ones in transactions of
/// chunk_size rows.
class customer_importer {
public:
  customer_importer(store::database& db, const std::string& default_region)
      : db_{db}, phones_{default_region}, default_region_{default_region} {}

  void reject(size_t line, std::string reason) {
    ++report_.rejected_total;
    if (report_.rejected.size() < max_listed_rejections)
      report_.rejected.push_back({line, std::move(reason)});
  }

  /// Queues a row that passes every check; a full chunk is written.
  caf::expected<void> add(const csv::customer_csv_row& row) {
    auto e164 = phones_.to_e164(row.phone);
    if (e164.empty()) {
      reject(row.line,
             "phone '" + row.phone + "' is not a dialable number (region "
                 + default_region_ + " for numbers without +country)");
      return caf::unit;
    }
    if (!seen_.insert(e164).second) {
      reject(row.line, "phone " + e164 + " appears earlier in the file");
      return caf::unit;
    }
    auto existing = db_.find_customers_by_e164(e164);
    if (!existing)
      return unavailable_after(report_.imported, existing.error());
    if (!existing->empty()) {
      reject(row.line, "phone " + e164 + " already belongs to customer "
                           + std::to_string(existing->front().id) + " ("
                           + existing->front().name + ")");
      return caf::unit;
    }
    customer c;
    c.name = row.name;
    c.phone = row.phone;
    c.phone_e164 = e164;
    batch_.push_back(std::move(c));
    batch_lines_.push_back(row.line);
    if (batch_.size() >= chunk_size)
      return flush();
    return caf::unit;
  }

  /// Writes the queued rows in one transaction.
  caf::expected<void> flush() {
    if (batch_.empty())
      return caf::unit;
    auto added = db_.add_customers(batch_);
    if (added)
      report_.imported += added->size();
    else if (store::is_unavailable(added.error()))
      return unavailable_after(report_.imported, added.error());
    else if (auto ok = add_one_by_one(); !ok)
      return ok;
    batch_.clear();
    batch_lines_.clear();
    return caf::unit;
  }

  customer_import_report finish() && {
    std::sort(report_.rejected.begin(), report_.rejected.end(),
              [](const auto& a, const auto& b) { return a.line < b.line; });
    return std::move(report_);
  }

private:
  // One row was refused and the transaction rolled back: add the rows one
  // by one to find it and keep the others.
  caf::expected<void> add_one_by_one() {
    for (size_t i = 0; i < batch_.size(); ++i) {
      auto one = db_.add_customer(batch_[i]);
      if (one)
        ++report_.imported;
      else if (store::is_unavailable(one.error()))
        return unavailable_after(report_.imported, one.error());
      else
        reject(batch_lines_[i],
               "the database refused the row: " + describe(one.error()));
    }
    return caf::unit;
  }

  store::database& db_;
  phone::normalizer phones_;
  const std::string& default_region_;
  customer_import_report report_;
  // Numbers seen earlier in this file, so one file cannot add a number twice.
  std::set<std::string> seen_;
  std::vector<customer> batch_;
  std::vector<size_t> batch_lines_;
};

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
  customer_importer importer{**db, default_region};
  csv::customer_csv_row row;
  csv::customer_csv_rejection rejection;
  for (;;) {
    auto got = reader.next(row, rejection);
    if (got == csv::customer_csv_reader::item::end)
      break;
    if (got == csv::customer_csv_reader::item::rejected) {
      importer.reject(rejection.line, std::move(rejection.reason));
      continue;
    }
    if (auto ok = importer.add(row); !ok)
      return ok.error();
  }
  if (auto ok = importer.flush(); !ok)
    return ok.error();
  return std::move(importer).finish();
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
