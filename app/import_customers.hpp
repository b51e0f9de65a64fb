#pragma once

// `switchboard import-customers FILE`: bulk import of customers from a CSV
// file (header `name,phone`) straight into the database, without a running
// server. Each row is normalized like POST /api/crm/customers; a row whose
// number does not parse, or whose number already belongs to a customer (in
// the database or earlier in the file), is rejected with its line number and
// the reason, so importing the same file twice adds nothing.
//
// A running server's customer matcher loads the new customers on its next
// index reload (or restart).

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "adapters/csv/customer_csv.hpp"
#include "config/config.hpp"

namespace sb {

/// Rejections listed one by one; beyond this only their number is kept, so
/// a file of nothing but bad rows cannot fill the memory.
constexpr size_t max_listed_rejections = 10000;

struct customer_import_report {
  size_t imported = 0;
  /// The first max_listed_rejections rejected rows, in line order.
  std::vector<csv::customer_csv_rejection> rejected;
  /// Every rejected row, listed or not.
  size_t rejected_total = 0;
};

/// Imports `csv_path` into the database at `db_url`. Errors (file unreadable,
/// bad header, database unreachable) stop the import; rows already imported
/// stay imported and are counted in the error message.
caf::expected<customer_import_report>
import_customers(const std::string& csv_path, const std::string& db_url,
                 const std::string& default_region);

/// The CLI entry point: runs the import with `cfg` and prints
/// `imported N, rejected M` plus one `line L: reason` per rejected row to
/// `out` (errors to `err`). Returns the process exit code: 0 when every row
/// was imported, 1 on a fatal error, 2 when some rows were rejected.
int run_import_customers(const app_config& cfg, const std::string& csv_path,
                         std::ostream& out, std::ostream& err);

} // namespace sb
