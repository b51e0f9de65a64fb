// The customer CSV import: any file gives rows and rejections (or a
// whole-file error), every row valid UTF-8, line numbers in order.

#include "adapters/csv/customer_csv.hpp"
#include "core/utf8.hpp"
#include "fuzz/fuzz.hpp"

SB_FUZZ_TARGET(input) {
  auto parsed = sb::csv::parse_customer_csv(input);
  if (!parsed.error.empty()) {
    sb::fuzz::require(parsed.rows.empty() && parsed.rejected.empty(),
                      "rows beside a whole-file error");
    return;
  }
  size_t last_line = 1;
  for (const auto& row : parsed.rows) {
    sb::fuzz::require(sb::valid_utf8(row.name) && sb::valid_utf8(row.phone),
                      "a row that is not UTF-8");
    sb::fuzz::require(row.line > last_line, "row lines out of order");
    last_line = row.line;
  }
}
