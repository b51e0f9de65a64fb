#include "adapters/cdr/cdr_database.hpp"

#include <cctype>

#include <soci/mysql/soci-mysql.h>
#include <soci/soci.h>

#include "core/db_url.hpp"
#include "core/error.hpp"
#include "core/percent.hpp"
#include "core/strings.hpp"
#include "domain/ami_fields.hpp"

namespace sb::cdr {

using ami_fields::micros_per_second;

namespace {

bool valid_timezone(const std::string& tz) {
  if (tz.empty() || tz.size() > 64)
    return false;
  for (char c : tz)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_'
          || c == '+' || c == '-' || c == ':'))
      return false;
  return true;
}

/// SOCI's connect strings are `key=value` pairs split at blanks; a value
/// with a blank or quote is quoted.
std::string pair(const std::string& key, const std::string& value) {
  std::string out = key + "='";
  for (char c : value) {
    if (c == '\'' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "' ";
}

} // namespace

caf::expected<std::string> connect_string(const std::string& url,
                                          const open_options& options) {
  auto bad = [] {
    return caf::make_error(ec::invalid,
                           "CDR database URL: expected "
                           "mysql://user@host[:port]/database");
  };
  if (!starts_with(url, "mysql://"))
    return bad();
  auto rest = url.substr(8);
  auto slash = rest.find('/');
  if (slash == std::string::npos || slash + 1 >= rest.size())
    return bad();
  auto authority = rest.substr(0, slash);
  auto dbname = rest.substr(slash + 1);
  dbname = dbname.substr(0, dbname.find('?'));
  std::string user;
  std::string password = options.password;
  auto at = authority.rfind('@');
  if (at != std::string::npos) {
    auto info = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto colon = info.find(':');
    user = percent_decode(info.substr(0, colon), false);
    if (colon != std::string::npos && password.empty())
      password = percent_decode(info.substr(colon + 1), false);
  }
  std::string host = authority;
  std::string port;
  auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || user.empty())
    return bad();
  std::string out = pair("db", dbname) + pair("user", user) + pair("host", host);
  if (!port.empty())
    out += pair("port", port);
  if (!password.empty())
    out += pair("password", password);
  out += pair("connect_timeout", std::to_string(options.connect_timeout.count()));
  out += pair("read_timeout", std::to_string(options.io_timeout.count()));
  out += pair("write_timeout", std::to_string(options.io_timeout.count()));
  out += pair("charset", "utf8mb4");
  return out;
}

struct database::impl {
  soci::session sql;
  std::string password;

  caf::error fail(const char* what, const std::exception& e) const {
    std::string message = e.what();
    if (!password.empty())
      message = replace_all(std::move(message), password, "***");
    if (message.size() > 300)
      message.resize(300);
    return caf::make_error(ec::database_unavailable,
                           std::string{"CDR database: "} + what + ": "
                               + message);
  }
};

database::database(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  // nop
}

database::~database() = default;

caf::expected<std::unique_ptr<database>>
database::open(const std::string& url, const open_options& options) {
  auto conninfo = connect_string(url, options);
  if (!conninfo)
    return std::move(conninfo.error());
  if (!valid_timezone(options.timezone))
    return caf::make_error(ec::invalid, "CDR time zone '" + options.timezone
                                            + "' is not a zone name or offset");
  auto d = std::make_unique<impl>();
  d->password = options.password.empty() ? url_password(url) : options.password;
  try {
    d->sql.open(soci::mysql, *conninfo);
    auto tz = options.timezone == "UTC" ? std::string{"+00:00"}
                                        : options.timezone;
    d->sql << "SET time_zone = '" << tz << "'";
  } catch (const std::exception& e) {
    return d->fail("connect", e);
  }
  return std::unique_ptr<database>{new database(std::move(d))};
}

caf::expected<std::vector<cdr_record>> database::calls_between(unix_micros from,
                                                            unix_micros to) {
  std::vector<cdr_record> out;
  try {
    long long a = from / micros_per_second;
    long long b = (to + micros_per_second - 1) / micros_per_second;
    cdr_record r;
    long long start = 0;
    int duration = 0;
    int billsec = 0;
    int sequence = 0;
    soci::statement st
        = (impl_->sql.prepare
               << "SELECT CAST(UNIX_TIMESTAMP(calldate) AS SIGNED),"
                  " COALESCE(clid, ''), COALESCE(src, ''), COALESCE(dst, ''),"
                  " COALESCE(dcontext, ''), COALESCE(channel, ''),"
                  " COALESCE(dstchannel, ''), COALESCE(lastapp, ''),"
                  " COALESCE(lastdata, ''), COALESCE(duration, 0),"
                  " COALESCE(billsec, 0), COALESCE(disposition, ''),"
                  " COALESCE(uniqueid, ''), COALESCE(linkedid, ''),"
                  " COALESCE(sequence, 0), COALESCE(did, ''),"
                  " COALESCE(recordingfile, '')"
                  " FROM cdr WHERE linkedid IN (SELECT linkedid FROM cdr"
                  " WHERE calldate >= FROM_UNIXTIME(:a)"
                  " AND calldate < FROM_UNIXTIME(:b))"
                  " ORDER BY calldate, sequence",
           soci::use(a), soci::use(b), soci::into(start), soci::into(r.clid),
           soci::into(r.src), soci::into(r.dst), soci::into(r.dcontext),
           soci::into(r.channel), soci::into(r.dstchannel),
           soci::into(r.lastapp), soci::into(r.lastdata),
           soci::into(duration), soci::into(billsec),
           soci::into(r.disposition), soci::into(r.uniqueid),
           soci::into(r.linkedid), soci::into(sequence), soci::into(r.did),
           soci::into(r.recordingfile));
    st.execute();
    while (st.fetch()) {
      r.start = static_cast<unix_micros>(start) * micros_per_second;
      r.duration = duration;
      r.billsec = billsec;
      r.sequence = sequence;
      out.push_back(r);
    }
  } catch (const std::exception& e) {
    return impl_->fail("read", e);
  }
  return out;
}

caf::expected<unix_micros> database::latest_end() {
  try {
    long long end = 0;
    soci::indicator ind = soci::i_null;
    impl_->sql << "SELECT CAST(UNIX_TIMESTAMP(MAX(DATE_ADD(calldate,"
                  " INTERVAL duration SECOND))) AS SIGNED) FROM cdr",
        soci::into(end, ind);
    return ind == soci::i_ok ? static_cast<unix_micros>(end) * micros_per_second
                             : unix_micros{0};
  } catch (const std::exception& e) {
    return impl_->fail("read", e);
  }
}

} // namespace sb::cdr
