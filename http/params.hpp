#pragma once

// Reading query parameters and request headers the same way in every route:
// ids, page sizes, unknown parameters, Idempotency-Key.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "http/message.hpp"

namespace sb::http {

/// The value of a positive decimal integer, none for anything else.
std::optional<int64_t> parse_positive_id(const std::string& text);

/// The parameter's first value, empty when absent.
std::string query_param(const request& req, const char* name);

/// The first query parameter not in `known`, if any.
std::optional<std::string>
unknown_param(const request& req, std::initializer_list<const char*> known);

/// Reads the optional Idempotency-Key header into `key`; false (and a 400
/// sent) when it is empty, longer than 200 bytes or not printable ASCII.
bool read_idempotency_key(const request& req, response& res, std::string& key);

/// The rows a page query asked for with one extra row (at most
/// `max_page`), cut to `limit`; true when another page follows. A full page
/// of `max_page` always counts as followed (the next page may be empty).
template <class Row>
bool trim_page(std::vector<Row>& rows, int64_t limit, int64_t max_page) {
  auto got = static_cast<int64_t>(rows.size());
  bool more = got > limit || (limit == max_page && got == max_page);
  if (more)
    rows.resize(static_cast<size_t>(limit));
  return more;
}

} // namespace sb::http
