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

/// Starts every line with its syslog priority (`<7>` debug, `<6>` info,
/// `<4>` warning, `<3>` error), which journald reads from a stream and
/// strips. main() turns it on when stderr is the stream named by
/// JOURNAL_STREAM.
void set_journal_priorities(bool on);

/// True when `journal_stream` (JOURNAL_STREAM's "device:inode") names the
/// file behind `fd`: systemd connected it to the journal.
bool is_journal_stream(const char* journal_stream, int fd);

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
