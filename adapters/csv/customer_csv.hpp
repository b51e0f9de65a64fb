#pragma once

// The customer file of `switchboard import-customers FILE`: CSV (RFC 4180:
// quoted fields, "" inside quotes, CRLF or LF) whose header names the columns
// `name` and `phone` (any order, any case; other columns are ignored). Each
// row is either accepted or rejected with its line number and the reason, so
// the operator can fix the file and import again.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sb::csv {

struct customer_csv_row {
  /// Line where the row starts (1 = the header).
  size_t line = 0;
  std::string name;
  std::string phone;
};

struct customer_csv_rejection {
  size_t line = 0;
  std::string reason;
};

struct customer_csv {
  std::vector<customer_csv_row> rows;
  std::vector<customer_csv_rejection> rejected;
  /// Set when the file as a whole is unusable (no header, missing column);
  /// rows and rejected are then empty.
  std::string error;
};

/// Splits CSV text into records of fields; each record keeps its first line.
struct csv_record {
  size_t line = 0;
  std::vector<std::string> fields;
  /// A quoted field ran to the end of the text.
  bool unterminated = false;
};

std::vector<csv_record> split_csv(std::string_view text);

customer_csv parse_customer_csv(std::string_view text);

} // namespace sb::csv
