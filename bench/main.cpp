// `bench [filter]`: runs every registered benchmark case whose name contains
// the filter and lets each print its figures.

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "bench/bench.hpp"

namespace sb::bench {

namespace {

size_t read_status_kib(const char* key) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  auto key_len = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, key_len, key) == 0)
      return std::stoul(line.substr(key_len + 1)) * 1024;
  return 0;
}

} // namespace

size_t peak_rss_bytes() {
  return read_status_kib("VmHWM");
}

size_t current_rss_bytes() {
  return read_status_kib("VmRSS");
}

void reset_peak_rss() {
  // Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
  std::ofstream{"/proc/self/clear_refs"} << "5";
}

} // namespace sb::bench

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : "";
  int ran = 0;
  for (auto& c : sb::bench::cases()) {
    if (c.name.find(filter) == std::string::npos)
      continue;
    std::printf("== %s\n", c.name.c_str());
    std::fflush(stdout);
    c.run();
    ++ran;
  }
  std::printf("== %d benchmark case(s), peak RSS %.1f MiB\n", ran,
              static_cast<double>(sb::bench::peak_rss_bytes()) / (1 << 20));
  return ran > 0 ? 0 : 1;
}
