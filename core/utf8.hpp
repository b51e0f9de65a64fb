#pragma once

// UTF-8 as RFC 3629 defines it: the shortest form only (no overlong
// encodings such as C0 AF for '/'), no UTF-16 surrogates (U+D800..U+DFFF,
// which a JSON `\uDC00` escape decodes to), nothing above U+10FFFF. Stored
// text must be valid so that every client (PostgreSQL, browsers, JSON
// encoders) reads it.

#include <string_view>

namespace sb {

inline bool valid_utf8(std::string_view text) noexcept {
  size_t i = 0;
  const size_t n = text.size();
  auto at = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  auto continuation = [&](size_t k) { return k < n && (at(k) & 0xC0) == 0x80; };
  while (i < n) {
    auto c = at(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      if (!continuation(i + 1))
        return false;
      i += 2;
      continue;
    }
    if (c >= 0xE0 && c <= 0xEF) {
      if (!continuation(i + 1) || !continuation(i + 2))
        return false;
      auto c1 = at(i + 1);
      if (c == 0xE0 && c1 < 0xA0) // overlong
        return false;
      if (c == 0xED && c1 >= 0xA0) // surrogate
        return false;
      i += 3;
      continue;
    }
    if (c >= 0xF0 && c <= 0xF4) {
      if (!continuation(i + 1) || !continuation(i + 2) || !continuation(i + 3))
        return false;
      auto c1 = at(i + 1);
      if (c == 0xF0 && c1 < 0x90) // overlong
        return false;
      if (c == 0xF4 && c1 >= 0x90) // above U+10FFFF
        return false;
      i += 4;
      continue;
    }
    // 80..C1 (continuation or overlong lead), F5..FF: never a lead byte.
    return false;
  }
  return true;
}

} // namespace sb
