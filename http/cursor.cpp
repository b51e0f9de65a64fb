#include "adapters/http/cursor.hpp"

#include <charconv>

namespace sb::http {

namespace {

constexpr char alphabet[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int value_of(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

// Version tag: a cursor format change makes old cursors fail loudly (400)
// rather than page from the wrong place.
constexpr std::string_view prefix = "c1|";

} // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0)
    out.push_back(alphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    auto v = value_of(c);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero padding of the last character.
  if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
    return std::nullopt;
  return out;
}

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
