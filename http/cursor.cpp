#include "http/cursor.hpp"
#include "core/base64.hpp"

#include <charconv>

namespace sb::http {

namespace {

// Version tag: a cursor format change makes old cursors fail loudly (400)
// rather than page from the wrong place.
constexpr std::string_view prefix = "c1|";

} // namespace

std::string encode_cursor(const comms_cursor& c) {
  std::string raw{prefix};
  raw += c.occurred_at;
  raw.push_back('|');
  raw += std::to_string(c.id);
  return base64url_encode(raw);
}

std::optional<comms_cursor> decode_cursor(std::string_view text) {
  if (text.empty() || text.size() > 256)
    return std::nullopt;
  auto raw = base64url_decode(text);
  if (!raw || raw->compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  std::string_view rest{*raw};
  rest.remove_prefix(prefix.size());
  auto bar = rest.rfind('|');
  if (bar == std::string_view::npos || bar == 0)
    return std::nullopt;
  comms_cursor c;
  c.occurred_at = std::string{rest.substr(0, bar)};
  auto digits = rest.substr(bar + 1);
  auto [ptr, ec]
      = std::from_chars(digits.data(), digits.data() + digits.size(), c.id);
  if (ec != std::errc{} || ptr != digits.data() + digits.size() || c.id <= 0)
    return std::nullopt;
  for (char ch : c.occurred_at)
    if (static_cast<unsigned char>(ch) < 0x20)
      return std::nullopt;
  return c;
}

} // namespace sb::http
