#pragma once

// Reading query parameters and request headers the same way in every route:
// ids, page sizes, unknown parameters, Idempotency-Key.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

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

} // namespace sb::http
