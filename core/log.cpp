#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <sys/stat.h>

namespace sb::log {

namespace {

std::atomic<int> min_level{static_cast<int>(level::info)};
std::atomic<bool> journal_priorities{false};
std::mutex output_mutex;

const char* name_of(level lvl) {
  switch (lvl) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warning:
      return "warning";
    default:
      return "error";
  }
}

bool needs_quotes(std::string_view v) {
  if (v.empty())
    return true;
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\'
        || static_cast<unsigned char>(c) < 0x20)
      return true;
  return false;
}

void append_value(std::string& out, std::string_view v) {
  if (!needs_quotes(v)) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out.push_back('?');
        else
          out.push_back(c);
    }
  }
  out.push_back('"');
}

} // namespace

bool parse_level(std::string_view text, level& out) {
  if (text == "debug")
    out = level::debug;
  else if (text == "info")
    out = level::info;
  else if (text == "warning" || text == "warn")
    out = level::warning;
  else if (text == "error")
    out = level::error;
  else
    return false;
  return true;
}

void set_level(level lvl) {
  min_level.store(static_cast<int>(lvl), std::memory_order_relaxed);
}

void set_journal_priorities(bool on) {
  journal_priorities.store(on, std::memory_order_relaxed);
}

bool is_journal_stream(const char* journal_stream, int fd) {
  if (journal_stream == nullptr || *journal_stream == '\0')
    return false;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  if (std::sscanf(journal_stream, "%llu:%llu", &device, &inode) != 2)
    return false;
  struct stat info {};
  if (fstat(fd, &info) != 0)
    return false;
  return static_cast<unsigned long long>(info.st_dev) == device
         && static_cast<unsigned long long>(info.st_ino) == inode;
}

level current_level() {
  return static_cast<level>(min_level.load(std::memory_order_relaxed));
}

void write(level lvl, std::string_view actor, std::string_view message,
           std::initializer_list<field> fields) {
  if (static_cast<int>(lvl) < min_level.load(std::memory_order_relaxed))
    return;
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto millis
      = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  std::string line;
  line.reserve(128);
  if (journal_priorities.load(std::memory_order_relaxed)) {
    static constexpr const char* priorities[] = {"<7>", "<6>", "<4>", "<3>"};
    line += priorities[static_cast<int>(lvl)];
  }
  line += "ts=";
  line += ts;
  line += " level=";
  line += name_of(lvl);
  line += " actor=";
  append_value(line, actor);
  line += " msg=";
  append_value(line, message);
  for (auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k);
    line.push_back('=');
    append_value(line, v);
  }
  line.push_back('\n');
  std::lock_guard<std::mutex> guard{output_mutex};
  std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace sb::log
