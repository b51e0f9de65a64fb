#pragma once

// The small string helpers every layer needs, in one copy. ASCII only: the
// protocols switchboard speaks (AMI keys, HTTP tokens, config keys) are
// case-insensitive in ASCII and never in anything else.

#include <string>
#include <string_view>

namespace sb {

/// Whitespace as config files, CSV cells and HTTP values contain it.
inline bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v'
         || c == '\f';
}

inline char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
}

inline char ascii_upper(char c) noexcept {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c & ~0x20) : c;
}

/// `text` without leading and trailing whitespace (a view into `text`).
inline std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return text;
}

/// trim() as an owning string.
inline std::string trim_copy(std::string_view text) {
  return std::string{trim(text)};
}

inline std::string lower(std::string_view text) {
  std::string out{text};
  for (auto& c : out)
    c = ascii_lower(c);
  return out;
}

inline std::string upper(std::string_view text) {
  std::string out{text};
  for (auto& c : out)
    c = ascii_upper(c);
  return out;
}

/// ASCII case-insensitive equality.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i]))
      return false;
  return true;
}

inline bool starts_with(std::string_view text,
                        std::string_view prefix) noexcept {
  return text.substr(0, prefix.size()) == prefix;
}

inline bool ends_with(std::string_view text, std::string_view suffix) noexcept {
  return text.size() >= suffix.size()
         && text.substr(text.size() - suffix.size()) == suffix;
}

/// ASCII case-insensitive `starts_with`.
inline bool istarts_with(std::string_view text,
                         std::string_view prefix) noexcept {
  return text.size() >= prefix.size()
         && iequals(text.substr(0, prefix.size()), prefix);
}

/// Every occurrence of `what` in `text` replaced by `with`.
inline std::string replace_all(std::string text, std::string_view what,
                               std::string_view with) {
  if (what.empty())
    return text;
  size_t pos = 0;
  while ((pos = text.find(what, pos)) != std::string::npos) {
    text.replace(pos, what.size(), with);
    pos += with.size();
  }
  return text;
}

} // namespace sb
