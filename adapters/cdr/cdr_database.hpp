#pragma once

// The PBX's CDR database (FreePBX: MariaDB/MySQL `asteriskcdrdb`, table
// `cdr`), read through SOCI's MySQL backend. Blocking: use it from a
// detached actor or a command-line tool, never on the AMI path.
//
// The session's time_zone is the PBX's (pbx.<name>.timezone): `calldate` is
// the PBX's local time, and the server converts it to and from Unix time
// (UNIX_TIMESTAMP / FROM_UNIXTIME), so the rows' times come back in UTC.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "domain/cdr_calls.hpp"

namespace sb::cdr {

struct open_options {
  /// Password of the URL's user (pbx.<name>.cdr_password); a password in
  /// the URL itself is used when this is empty.
  std::string password;
  /// calldate's time zone: "UTC", "+05:30", or a zone name.
  std::string timezone = "UTC";
  std::chrono::seconds connect_timeout{5};
  /// Per read / write on the socket: a slow server fails the query instead
  /// of holding the caller.
  std::chrono::seconds io_timeout{30};
};

class database {
public:
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// Connects to `url` (mysql://user[:password]@host[:port]/database).
  /// Errors (ec::invalid for a bad URL or time zone, ec::database_unavailable
  /// otherwise) never carry the password.
  static caf::expected<std::unique_ptr<database>>
  open(const std::string& url, const open_options& options);

  /// Every row of the calls that have a row starting in [from, to) (UTC
  /// microseconds), all their rows included.
  caf::expected<std::vector<cdr_record>> calls_between(unix_micros from,
                                                    unix_micros to);

  /// The end of the latest row (UTC microseconds), 0 when the table is
  /// empty: the PBX's clock as far as its CDR tells it.
  caf::expected<unix_micros> latest_end();

  struct impl;

private:
  explicit database(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// `url`'s parts as SOCI's MySQL backend takes them; ec::invalid when `url`
/// is not mysql://user@host[:port]/database.
caf::expected<std::string> connect_string(const std::string& url,
                                          const open_options& options);

} // namespace sb::cdr
