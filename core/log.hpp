#pragma once

// Structured logging: one line per event, logfmt
// (`ts=... level=info actor=ami_connection pbx=main msg="logged in"`), to
// stderr. Never pass secrets as fields.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace sb::log {

enum class level { debug = 0, info = 1, warning = 2, error = 3 };

/// Parses "debug" | "info" | "warning" | "error"; false when unknown.
bool parse_level(std::string_view text, level& out);

void set_level(level lvl);
level current_level();

using field = std::pair<std::string_view, std::string_view>;

void write(level lvl, std::string_view actor, std::string_view message,
           std::initializer_list<field> fields = {});

inline void debug(std::string_view actor, std::string_view message,
                  std::initializer_list<field> fields = {}) {
  if (current_level() <= level::debug)
    write(level::debug, actor, message, fields);
}
inline void info(std::string_view actor, std::string_view message,
                 std::initializer_list<field> fields = {}) {
  write(level::info, actor, message, fields);
}
inline void warning(std::string_view actor, std::string_view message,
                    std::initializer_list<field> fields = {}) {
  write(level::warning, actor, message, fields);
}
inline void error(std::string_view actor, std::string_view message,
                  std::initializer_list<field> fields = {}) {
  write(level::error, actor, message, fields);
}

} // namespace sb::log
