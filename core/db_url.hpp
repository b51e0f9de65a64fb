#pragma once

// Database URLs as operators write them: `sqlite:<path>`,
// `postgresql://user:password@host:port/db?...` (libpq also takes
// `?password=`), `mysql://user:password@host:port/db`. The password is the
// only part a log line or a config dump must never show.

#include <string>

namespace sb {

/// The URL with its password (user-info and `password=` query parameter)
/// replaced by `***`; every other part (user, host, database) kept as it is.
std::string redact_url(std::string url);

/// The password the URL carries, empty when none.
std::string url_password(const std::string& url);

/// True for postgresql:// and postgres:// URLs.
bool is_postgres_url(const std::string& url);

} // namespace sb
