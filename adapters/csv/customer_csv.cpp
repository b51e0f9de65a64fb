#include "adapters/csv/customer_csv.hpp"
#include "core/strings.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace sb::csv {

namespace {

bool blank(const csv_record& r) {
  for (auto& f : r.fields)
    if (!trim(f).empty())
      return false;
  return true;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    if (c < 0x80)
      extra = 0;
    else if ((c >> 5) == 0x6)
      extra = 1;
    else if ((c >> 4) == 0xE)
      extra = 2;
    else if ((c >> 3) == 0x1E)
      extra = 3;
    else
      return false;
    if (i + extra >= s.size())
      return false;
    for (size_t k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2)
        return false;
    i += extra + 1;
  }
  return true;
}

} // namespace

std::vector<csv_record> split_csv(std::string_view text) {
  std::vector<csv_record> records;
  // A UTF-8 byte order mark (spreadsheet exports) is not part of the header.
  if (text.substr(0, 3) == "\xEF\xBB\xBF")
    text.remove_prefix(3);
  size_t line = 1;
  size_t i = 0;
  while (i < text.size()) {
    csv_record rec;
    rec.line = line;
    std::string field;
    bool done = false;
    while (!done) {
      if (i < text.size() && text[i] == '"') {
        // Quoted field: runs to the closing quote, may hold newlines.
        ++i;
        bool closed = false;
        while (i < text.size()) {
          char c = text[i++];
          if (c == '"') {
            if (i < text.size() && text[i] == '"') {
              field.push_back('"');
              ++i;
            } else {
              closed = true;
              break;
            }
          } else {
            if (c == '\n')
              ++line;
            field.push_back(c);
          }
        }
        if (!closed)
          rec.unterminated = true;
        // Text between the closing quote and the separator is kept as is.
        while (i < text.size() && text[i] != ',' && text[i] != '\n'
               && text[i] != '\r')
          field.push_back(text[i++]);
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n'
               && text[i] != '\r')
          field.push_back(text[i++]);
      }
      rec.fields.push_back(std::move(field));
      field.clear();
      if (i >= text.size()) {
        done = true;
      } else if (text[i] == ',') {
        ++i;
      } else {
        // End of record: \n, \r\n or a lone \r.
        if (text[i] == '\r')
          ++i;
        if (i < text.size() && text[i] == '\n')
          ++i;
        ++line;
        done = true;
      }
    }
    records.push_back(std::move(rec));
  }
  return records;
}

customer_csv parse_customer_csv(std::string_view text) {
  customer_csv result;
  auto records = split_csv(text);
  size_t first = 0;
  while (first < records.size() && blank(records[first]))
    ++first;
  if (first == records.size()) {
    result.error = "the file is empty: expected a header line 'name,phone'";
    return result;
  }
  const auto& header = records[first];
  size_t name_col = SIZE_MAX;
  size_t phone_col = SIZE_MAX;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    auto col = lower(trim(header.fields[i]));
    if (col == "name" && name_col == SIZE_MAX)
      name_col = i;
    else if (col == "phone" && phone_col == SIZE_MAX)
      phone_col = i;
  }
  if (name_col == SIZE_MAX || phone_col == SIZE_MAX) {
    result.error = "line " + std::to_string(header.line)
                   + ": the header must name the columns 'name' and 'phone' "
                     "(e.g. 'name,phone')";
    return result;
  }
  auto needed = std::max(name_col, phone_col) + 1;
  for (size_t r = first + 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    if (blank(rec))
      continue;
    auto reject = [&](std::string reason) {
      result.rejected.push_back({rec.line, std::move(reason)});
    };
    if (rec.unterminated) {
      reject("a quoted field is never closed");
      continue;
    }
    if (rec.fields.size() < needed) {
      reject("expected at least " + std::to_string(needed) + " fields, found "
             + std::to_string(rec.fields.size()));
      continue;
    }
    auto name = trim_copy(rec.fields[name_col]);
    auto phone = trim_copy(rec.fields[phone_col]);
    if (name.empty()) {
      reject("name is empty");
      continue;
    }
    if (phone.empty()) {
      reject("phone is empty");
      continue;
    }
    if (!valid_utf8(name) || !valid_utf8(phone)) {
      reject("not valid UTF-8 (save the file as UTF-8)");
      continue;
    }
    if (name.size() > 512) {
      reject("name is longer than 512 bytes");
      continue;
    }
    if (phone.size() > 64) {
      reject("phone is longer than 64 bytes");
      continue;
    }
    result.rows.push_back({rec.line, std::move(name), std::move(phone)});
  }
  return result;
}

} // namespace sb::csv
