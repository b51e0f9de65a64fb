#pragma once

// to_string / from_string for the closed sets that cross actor boundaries:
// each enum lists its names once, in declaration order.
//
//   enum class color : uint8_t { red, green };
//   inline constexpr const char* color_names[] = {"red", "green"};
//   inline const char* to_string(color x) { return enum_name(color_names, x); }
//   inline bool from_string(std::string_view s, color& x) {
//     return enum_from_name(color_names, s, x);
//   }

#include <cstddef>
#include <string_view>

namespace sb {

template <class E, size_t N>
const char* enum_name(const char* const (&names)[N], E x) noexcept {
  auto i = static_cast<size_t>(x);
  return i < N ? names[i] : "unknown";
}

template <class E, size_t N>
bool enum_from_name(const char* const (&names)[N], std::string_view name,
                    E& x) noexcept {
  for (size_t i = 0; i < N; ++i)
    if (name == names[i]) {
      x = static_cast<E>(i);
      return true;
    }
  return false;
}

} // namespace sb
