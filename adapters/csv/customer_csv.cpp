#include "adapters/csv/customer_csv.hpp"

#include <algorithm>
#include <cstdint>
#include <sstream>

#include "core/strings.hpp"
#include "core/utf8.hpp"

namespace sb::csv {

namespace {

constexpr int eof = std::char_traits<char>::eof();

bool blank(const csv_record& r) {
  for (auto& f : r.fields)
    if (!trim(f).empty())
      return false;
  // Fields past the kept ones are unknown: only a record whose every field
  // was looked at can be blank.
  return r.field_count == r.fields.size();
}

void keep_char(std::string* out, char c) {
  if (out != nullptr && out->size() <= max_field_bytes)
    out->push_back(c);
}

} // namespace

bool customer_csv_reader::read_field(csv_record& rec, std::string* out) {
  int c = in_.sgetc();
  if (c == '"') {
    // Quoted field: runs to the closing quote, may hold newlines.
    in_.sbumpc();
    bool closed = false;
    while ((c = in_.sbumpc()) != eof) {
      if (c == '"') {
        if (in_.sgetc() == '"') {
          keep_char(out, '"');
          in_.sbumpc();
          continue;
        }
        closed = true;
        break;
      }
      if (c == '\n')
        ++line_;
      keep_char(out, static_cast<char>(c));
    }
    if (!closed)
      rec.unterminated = true;
  }
  // Unquoted text, or text between the closing quote and the separator,
  // kept as is.
  while ((c = in_.sgetc()) != eof && c != ',' && c != '\n' && c != '\r') {
    keep_char(out, static_cast<char>(c));
    in_.sbumpc();
  }
  if (c == ',') {
    in_.sbumpc();
    return true;
  }
  // End of record: \n, \r\n, a lone \r, or the end of the input.
  if (c == '\r') {
    in_.sbumpc();
    c = in_.sgetc();
  }
  if (c == '\n')
    in_.sbumpc();
  if (c != eof)
    ++line_;
  return false;
}

bool customer_csv_reader::next_record(csv_record& rec, size_t keep) {
  if (!bom_checked_) {
    bom_checked_ = true;
    // A UTF-8 byte order mark (spreadsheet exports) is not part of the
    // header.
    if (in_.sgetc() == 0xEF) {
      char bom[3];
      auto got = in_.sgetn(bom, 3);
      if (got != 3 || std::string_view{bom, 3} != "\xEF\xBB\xBF")
        in_.pubseekoff(-got, std::ios::cur, std::ios::in);
    }
  }
  if (in_.sgetc() == eof)
    return false;
  rec.line = line_;
  rec.fields.clear();
  rec.field_count = 0;
  rec.unterminated = false;
  bool more = true;
  while (more) {
    bool store = rec.fields.size() < keep;
    if (store)
      rec.fields.emplace_back();
    more = read_field(rec, store ? &rec.fields.back() : nullptr);
    ++rec.field_count;
  }
  return true;
}

std::string customer_csv_reader::read_header() {
  csv_record header;
  do {
    if (!next_record(header, max_header_columns))
      return "the file is empty: expected a header line 'name,phone'";
  } while (blank(header));
  size_t name_col = SIZE_MAX;
  size_t phone_col = SIZE_MAX;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    auto col = lower(trim(header.fields[i]));
    if (col == "name" && name_col == SIZE_MAX)
      name_col = i;
    else if (col == "phone" && phone_col == SIZE_MAX)
      phone_col = i;
  }
  if (name_col == SIZE_MAX || phone_col == SIZE_MAX)
    return "line " + std::to_string(header.line)
           + ": the header must name the columns 'name' and 'phone' "
             "(e.g. 'name,phone') among its first "
           + std::to_string(max_header_columns) + " columns";
  name_col_ = name_col;
  phone_col_ = phone_col;
  needed_ = std::max(name_col, phone_col) + 1;
  return {};
}

customer_csv_reader::item
customer_csv_reader::next(customer_csv_row& row,
                          customer_csv_rejection& rejection) {
  csv_record rec;
  do {
    if (!next_record(rec, needed_))
      return item::end;
  } while (blank(rec));
  auto reject = [&](std::string reason) {
    rejection.line = rec.line;
    rejection.reason = std::move(reason);
    return item::rejected;
  };
  if (rec.unterminated)
    return reject("a quoted field is never closed");
  if (rec.field_count < needed_)
    return reject("expected at least " + std::to_string(needed_)
                  + " fields, found " + std::to_string(rec.field_count));
  auto name = trim_copy(rec.fields[name_col_]);
  auto phone = trim_copy(rec.fields[phone_col_]);
  if (name.empty())
    return reject("name is empty");
  if (phone.empty())
    return reject("phone is empty");
  if (!valid_utf8(name) || !valid_utf8(phone))
    return reject("not valid UTF-8 (save the file as UTF-8)");
  if (name.size() > 512)
    return reject("name is longer than 512 bytes");
  if (phone.size() > 64)
    return reject("phone is longer than 64 bytes");
  row.line = rec.line;
  row.name = std::move(name);
  row.phone = std::move(phone);
  return item::row;
}

customer_csv parse_customer_csv(std::string_view text) {
  customer_csv result;
  std::istringstream in{std::string{text}};
  customer_csv_reader reader{in};
  result.error = reader.read_header();
  if (!result.error.empty())
    return result;
  customer_csv_row row;
  customer_csv_rejection rejection;
  for (;;) {
    auto got = reader.next(row, rejection);
    if (got == customer_csv_reader::item::end)
      break;
    if (got == customer_csv_reader::item::row)
      result.rows.push_back(std::move(row));
    else
      result.rejected.push_back(std::move(rejection));
  }
  return result;
}

} // namespace sb::csv
