#pragma once

// The customer file of `switchboard import-customers FILE`: CSV (RFC 4180:
// quoted fields, "" inside quotes, CRLF or LF) whose header names the columns
// `name` and `phone` (any order, any case; other columns are ignored). Each
// row is either accepted or rejected with its line number and the reason, so
// the operator can fix the file and import again.
//
// The reader streams: it holds one record at a time, keeps only the columns
// it needs and at most `max_field_bytes` of each, so its memory does not
// grow with the file (a file of nothing but commas is one huge record whose
// fields are counted, not stored).

#include <cstddef>
#include <istream>
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

/// One CSV record as the reader keeps it.
struct csv_record {
  /// Line where the record starts.
  size_t line = 0;
  /// The first fields (as many as asked for), each cut to max_field_bytes
  /// + 1 bytes so that "too long" stays detectable.
  std::vector<std::string> fields;
  /// Every field of the record, kept or not.
  size_t field_count = 0;
  /// A quoted field ran to the end of the input.
  bool unterminated = false;
};

/// Longest field kept; the longest accepted value (a name) is far shorter.
constexpr size_t max_field_bytes = 4096;

/// Columns of the header that are looked at for `name` and `phone`.
constexpr size_t max_header_columns = 1024;

class customer_csv_reader {
public:
  explicit customer_csv_reader(std::istream& in) : in_(*in.rdbuf()) {}

  /// Reads up to the header. "" when it names both columns, else why the
  /// file as a whole is unusable.
  std::string read_header();

  enum class item { row, rejected, end };

  /// The next data row (blank records skipped): `row` filled, or
  /// `rejection` filled, or the end of the input.
  item next(customer_csv_row& row, customer_csv_rejection& rejection);

private:
  /// The next record, keeping its first `keep` fields; false at the end.
  bool next_record(csv_record& rec, size_t keep);
  /// One field into `out` (when `store`); false when the record ends there.
  bool read_field(csv_record& rec, std::string* out);

  std::streambuf& in_;
  size_t line_ = 1;
  bool bom_checked_ = false;
  size_t name_col_ = 0;
  size_t phone_col_ = 0;
  size_t needed_ = 0;
};

/// The whole result of a text, for tests and small inputs.
struct customer_csv {
  std::vector<customer_csv_row> rows;
  std::vector<customer_csv_rejection> rejected;
  /// Set when the file as a whole is unusable (no header, missing column);
  /// rows and rejected are then empty.
  std::string error;
};

customer_csv parse_customer_csv(std::string_view text);

} // namespace sb::csv
