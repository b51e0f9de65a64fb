#pragma once

// What every fuzz target shares: the libFuzzer entry point's signature and a
// check that turns a broken invariant into a crash libFuzzer reports and
// minimises (a wrong answer is a finding too, not only a fault).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace sb::fuzz {

inline std::string_view text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline void require(bool holds, const char* what) {
  if (!holds) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

} // namespace sb::fuzz

#define SB_FUZZ_TARGET(input)                                                  \
  static void sb_fuzz_one(std::string_view input);                             \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {    \
    sb_fuzz_one(sb::fuzz::text(data, size));                                   \
    return 0;                                                                  \
  }                                                                            \
  static void sb_fuzz_one(std::string_view input)
