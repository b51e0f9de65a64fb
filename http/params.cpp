#include "http/params.hpp"

#include <algorithm>
#include <charconv>

#include "http/json.hpp"

namespace sb::http {

namespace {

constexpr size_t max_idempotency_key_bytes = 200;

bool printable_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c >= 0x21 && c <= 0x7e; });
}

} // namespace

std::optional<int64_t> parse_positive_id(const std::string& text) {
  int64_t x = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (ec != std::errc{} || ptr != text.data() + text.size() || x <= 0)
    return std::nullopt;
  return x;
}

std::string query_param(const request& req, const char* name) {
  return req.has_param(name) ? req.param(name) : std::string{};
}

std::optional<std::string>
unknown_param(const request& req, std::initializer_list<const char*> known) {
  for (const auto& entry : req.query) {
    const auto& name = entry.first;
    if (std::none_of(known.begin(), known.end(),
                     [&](const char* k) { return name == k; }))
      return name;
  }
  return std::nullopt;
}

bool read_idempotency_key(const request& req, response& res,
                          std::string& key) {
  key.clear();
  if (!req.has_header("Idempotency-Key"))
    return true;
  key = req.header("Idempotency-Key");
  if (key.empty() || key.size() > max_idempotency_key_bytes
      || !printable_ascii(key)) {
    send_error(res, 400, "invalid_idempotency_key",
               "Idempotency-Key must be 1 to 200 printable ASCII "
               "characters without spaces");
    return false;
  }
  return true;
}

} // namespace sb::http
