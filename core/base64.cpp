#include "core/base64.hpp"

#include <cstdint>

namespace sb {

namespace {

constexpr char alphabet[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int value_of(char c, bool lenient) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-' || (lenient && c == '+'))
    return 62;
  if (c == '_' || (lenient && c == '/'))
    return 63;
  return -1;
}

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

namespace {

// Strict: base64url only, no padding, the unused bits of the last character
// zero. Lenient: both alphabets, decoding stops at `=`.
std::optional<std::string> decode(std::string_view text, bool lenient) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (lenient && c == '=')
      return out;
    auto v = value_of(c, lenient);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (!lenient && (bits >= 6 || (acc & ((1u << bits) - 1)) != 0))
    return std::nullopt;
  return out;
}

} // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
  return decode(text, false);
}

std::optional<std::string> base64_decode_lenient(std::string_view text) {
  return decode(text, true);
}

} // namespace sb
