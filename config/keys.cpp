#include "config/key_table.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>
#include <string_view>

#include <caf/sec.hpp>
#include <phonenumbers/phonenumberutil.h>

#include "core/db_url.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/origins.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"
#include "core/time_zone.hpp"

namespace sb {

namespace config_detail {

caf::error make_config_error(std::string text) {
  return caf::make_error(caf::sec::invalid_argument, std::move(text));
}

caf::error fail(const origin& from, const std::string& key,
                const std::string& what) {
  if (from.where.empty())
    return make_config_error(key + ": " + what);
  return make_config_error(from.where + ": " + key + ": " + what);
}

// -- small string helpers -----------------------------------------------------

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::string_view rest{text};
  while (true) {
    auto comma = rest.find(',');
    auto item = trim_copy(rest.substr(0, comma));
    if (!item.empty())
      items.push_back(std::move(item));
    if (comma == std::string_view::npos)
      break;
    rest.remove_prefix(comma + 1);
  }
  return items;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty())
      out += sep;
    out += item;
  }
  return out;
}

std::string format_number(double x) {
  std::ostringstream out;
  out.precision(15);
  out << x;
  return out.str();
}

// -- value parsers: return a problem (never quoting a secret) or "" -----------

problem parse_unsigned(const std::string& text, uint64_t& out, uint64_t min,
                       uint64_t max) {
  const char* first = text.data();
  const char* last = first + text.size();
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(first, last, value);
  if (text.empty() || ec != std::errc{} || end != last)
    return "'" + text + "' is not a whole number";
  if (value < min || value > max)
    return "'" + text + "' is out of range (" + std::to_string(min) + ".."
           + std::to_string(max) + ")";
  out = value;
  return {};
}

problem parse_port(const std::string& text, uint16_t& out) {
  uint64_t value = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  auto [end, ec] = std::from_chars(first, last, value);
  if (text.empty() || ec != std::errc{} || end != last)
    return "'" + text + "' is not a port number (1..65535)";
  if (value < 1 || value > 65535)
    return "port " + text + " is out of range (1..65535)";
  out = static_cast<uint16_t>(value);
  return {};
}

problem parse_seconds(const std::string& text, double& out, bool allow_zero) {
  const char* first = text.data();
  const char* last = first + text.size();
  double value = 0;
  auto [end, ec] = std::from_chars(first, last, value);
  if (text.empty() || ec != std::errc{} || end != last || !std::isfinite(value))
    return "'" + text + "' is not a number of seconds";
  if (value < 0)
    return "'" + text + "' is negative (a duration in seconds)";
  if (value == 0 && !allow_zero)
    return "must be more than 0 seconds";
  out = value;
  return {};
}

/// The regions libphonenumber has metadata for: any other region (ZZ, or a
/// real country missing from the metadata) would make every number
/// unmatchable.
problem check_region(const std::string& v) {
  static const std::set<std::string> supported = [] {
    std::set<std::string> regions;
    i18n::phonenumbers::PhoneNumberUtil::GetInstance()->GetSupportedRegions(
        &regions);
    return regions;
  }();
  if (supported.count(upper(v)) > 0)
    return {};
  return "'" + v
         + "' is not a region libphonenumber supports (an ISO 3166 code "
           "such as GB, IN, US)";
}

problem check_origins(const std::string& v) {
  std::string why;
  parse_origins(v, &why);
  return why;
}

bool has_scheme(const std::string& url, std::string_view scheme) {
  return lower(url.substr(0, scheme.size())) == scheme;
}

/// The scheme of `url` up to ':' when it looks like one (for error messages:
/// never the whole URL, which may carry a password).
std::string scheme_of(const std::string& url) {
  auto colon = url.find(':');
  if (colon == std::string::npos || colon > 20)
    return "(none)";
  return url.substr(0, colon);
}

problem check_db_url(const std::string& url) {
  if (has_scheme(url, "sqlite:")) {
    if (url.size() == 7)
      return "sqlite: needs a file path (sqlite:<path>)";
    return {};
  }
  if (is_postgres_url(url)) {
    auto rest = url.substr(url.find("//") + 2);
    if (rest.empty() || rest[0] == '/' || rest[0] == '?')
      return "postgresql URL needs a host "
             "(postgresql://user:pass@host:port/db)";
    return {};
  }
  return "unsupported scheme '" + scheme_of(url)
         + "' (use sqlite:<path> or postgresql://user:pass@host:port/db)";
}

bool url_has_password(const std::string& url) {
  return !url_password(url).empty();
}

problem check_listen(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return "'" + text + "' is not host:port (e.g. 127.0.0.1:8080)";
  auto host = text.substr(0, colon);
  if (host.front() == '[' && host.back() != ']')
    return "'" + text + "' has an unclosed IPv6 bracket";
  if (host.front() != '[' && host.find(':') != std::string::npos)
    return "'" + text + "': write an IPv6 host in brackets ([::1]:8080)";
  // Port 0 asks the kernel for a free port (tests, side-by-side instances);
  // the bound port is logged at start-up.
  auto port_text = text.substr(colon + 1);
  if (port_text == "0")
    return {};
  uint16_t port = 0;
  auto port_problem = parse_port(port_text, port);
  if (!port_problem.empty())
    return port_problem;
  return {};
}

problem check_http_url(const std::string& text) {
  size_t prefix = has_scheme(text, "https://")  ? 8
                  : has_scheme(text, "http://") ? 7
                                                : 0;
  if (prefix == 0)
    return "unsupported scheme '" + scheme_of(text) + "' (use https://host)";
  if (text.size() == prefix || text[prefix] == '/')
    return "URL needs a host";
  return {};
}

problem parse_disposition_map(const std::string& text,
                              std::map<std::string, std::string>& out) {
  std::map<std::string, std::string> result;
  for (const auto& entry : split_list(text)) {
    auto eq = entry.find('=');
    if (eq == std::string::npos)
      return "entry '" + entry + "' is not NAME=Campaign Disposition";
    auto name = trim_copy(entry.substr(0, eq));
    auto value = trim_copy(entry.substr(eq + 1));
    if (name.empty() || value.empty())
      return "entry '" + entry + "' is not NAME=Campaign Disposition";
    result[name] = value;
  }
  out = std::move(result);
  return {};
}

std::string print_disposition_map(const std::map<std::string, std::string>& m) {
  std::string out;
  for (const auto& [name, value] : m) {
    if (!out.empty())
      out += ", ";
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

bool valid_pbx_name(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}
// -- the key tables
// -------------------------------------------------------------

template <class Target, class Field>
key_spec<Target> string_key(const char* name, Field field, const char* help,
                            secrecy secret = secrecy::none,
                            std::function<problem(const std::string&)> check
                            = {}) {
  return {name, help, secret,
          [field, check = std::move(check)](Target& t,
                                            const std::string& v) -> problem {
            if (check) {
              auto p = check(v);
              if (!p.empty())
                return p;
            }
            field(t) = v;
            return {};
          },
          [field](const Target& t) { return field(t); }};
}

template <class Target, class Field>
key_spec<Target> seconds_key(const char* name, Field field, const char* help,
                             bool allow_zero = false) {
  return {name, help, secrecy::none,
          [field, allow_zero](Target& t, const std::string& v) -> problem {
            return parse_seconds(v, field(t), allow_zero);
          },
          [field](const Target& t) { return format_number(field(t)); }};
}

template <class Target, class Field>
key_spec<Target> count_key(const char* name, Field field, const char* help,
                           uint64_t min, uint64_t max) {
  return {name, help, secrecy::none,
          [field, min, max](Target& t, const std::string& v) -> problem {
            uint64_t value = 0;
            auto p = parse_unsigned(v, value, min, max);
            if (p.empty())
              field(t) = static_cast<std::decay_t<decltype(field(t))>>(value);
            return p;
          },
          [field](const Target& t) { return std::to_string(field(t)); }};
}

template <class Target, class Field>
key_spec<Target> list_key(const char* name, Field field, const char* help) {
  return {name, help, secrecy::none,
          [field](Target& t, const std::string& v) -> problem {
            field(t) = split_list(v);
            return {};
          },
          [field](const Target& t) { return join(field(t), ", "); }};
}

#define SB_FIELD(Target, expr) ([](auto& c) -> auto& { return c.expr; })

const std::vector<std::string>& section_names() {
  static const std::vector<std::string> names{"db",      "http",     "phone",
                                              "tracker", "ozonetel", "events",
                                              "log"};
  return names;
}

/// Keys of [db] and [http].
std::vector<key_spec<app_config>> storage_and_http_keys() {
  using T = app_config;
  return {
      string_key<T>(
          "db.url", SB_FIELD(T, db.url),
          "Database: sqlite:<path> (embedded) or "
          "postgresql://user:pass@host:port/db. A password in the URL "
          "is a secret: give it by environment or db.url_file.",
          secrecy::url_password, check_db_url),
      count_key<T>("db.batch_size", SB_FIELD(T, db.batch_size),
                   "Most call entries written per transaction.", 1, 1000000),
      count_key<T>("db.max_pending", SB_FIELD(T, db.max_pending),
                   "Entries held in memory while the database is down, before "
                   "they go to the spool file.",
                   1, 100000000),
      string_key<T>("db.spool_path", SB_FIELD(T, db.spool_path),
                    "File where entries wait when the in-memory buffer is full "
                    "(replayed when the database is back).",
                    secrecy::none,
                    [](const std::string& v) -> problem {
                      return v.empty() ? "must not be empty" : "";
                    }),
      count_key<T>("db.spool_max_mb", SB_FIELD(T, db.spool_max_mb),
                   "Largest size of the spool file in MiB; past it entries "
                   "stay in memory and an error is logged.",
                   1, 1048576),
      seconds_key<T>("db.shutdown_timeout_seconds",
                     SB_FIELD(T, db.shutdown_timeout_seconds),
                     "How long a stop may take to commit what the pipeline "
                     "holds; the rest is spooled."),
      string_key<T>("http.listen", SB_FIELD(T, http.listen),
                    "HTTP listen address host:port (IPv6 as [::1]:8080).",
                    secrecy::none, check_listen),
      string_key<T>("http.token", SB_FIELD(T, http.token),
                    "Bearer token with read and write scope. Empty = API "
                    "disabled (only /healthz, /readyz, /metrics answer).",
                    secrecy::secret),
      string_key<T>("http.read_token", SB_FIELD(T, http.read_token),
                    "Optional bearer token with read scope only.",
                    secrecy::secret),
      count_key<T>("http.max_body_bytes", SB_FIELD(T, http.max_body_bytes),
                   "Largest request body accepted (413 above).", 1,
                   1024ull * 1024 * 1024),
      seconds_key<T>("http.request_timeout_seconds",
                     SB_FIELD(T, http.request_timeout_seconds),
                     "How long a request waits for an actor's answer (503 "
                     "after)."),
      count_key<T>("http.threads", SB_FIELD(T, http.threads),
                   "HTTP worker threads.", 1, 256),
      string_key<T>("http.cors_origins", SB_FIELD(T, http.cors_origins),
                    "Origins (scheme://host[:port], comma-separated, exact) "
                    "whose browser pages may call the API. Empty = none.",
                    secrecy::none, check_origins),
  };
}

/// Keys of [phone], [tracker], [ozonetel] and [log].
std::vector<key_spec<app_config>> call_keys() {
  using T = app_config;
  return {
      string_key<T>("phone.default_region", SB_FIELD(T, phone.default_region),
                    "ISO 3166 region (two letters) for numbers written without "
                    "a country code.",
                    secrecy::none, check_region),
      count_key<T>("tracker.max_queued_calls",
                   SB_FIELD(T, tracker.max_queued_calls),
                   "Completed calls on their way to the database (matcher "
                   "and writer queues); at the bound the PBX readers stop "
                   "reading until the writer caught up.",
                   100, 10000000),
      seconds_key<T>("tracker.stale_call_seconds",
                     SB_FIELD(T, tracker.stale_call_seconds),
                     "A call with no event for this long after its PBX "
                     "connection dropped is finalized with the incomplete "
                     "flag."),
      seconds_key<T>("tracker.max_call_seconds",
                     SB_FIELD(T, tracker.max_call_seconds),
                     "Upper bound for any call's life without a Hangup (PBX "
                     "bug, lost events)."),
      string_key<T>("ozonetel.api_base", SB_FIELD(T, ozonetel.api_base),
                    "CloudAgent API base URL.", secrecy::none, check_http_url),
      string_key<T>("ozonetel.account", SB_FIELD(T, ozonetel.account),
                    "CloudAgent account (userName). Ozonetel is enabled when "
                    "account and api_key are both set."),
      string_key<T>("ozonetel.api_key", SB_FIELD(T, ozonetel.api_key),
                    "CloudAgent API key (token generation).", secrecy::secret),
      string_key<T>("ozonetel.agent_id", SB_FIELD(T, ozonetel.agent_id),
                    "Agent ID used for manual dial, disposition and agent "
                    "state."),
      string_key<T>(
          "ozonetel.agent_password", SB_FIELD(T, ozonetel.agent_password),
          "Agent password (agent login, HTTP Basic).", secrecy::secret),
      string_key<T>("ozonetel.campaign", SB_FIELD(T, ozonetel.campaign),
                    "Campaign name for manual dial."),
      string_key<T>("ozonetel.did", SB_FIELD(T, ozonetel.did),
                    "DID sent with dispositions."),
      {"ozonetel.disposition_map",
       "Internal disposition -> campaign disposition, as NAME=Campaign "
       "Disposition pairs separated by commas (or one per line in a "
       "[ozonetel.disposition_map] section).",
       secrecy::none,
       [](app_config& c, const std::string& v) {
         return parse_disposition_map(v, c.ozonetel.disposition_map);
       },
       [](const app_config& c) {
         return print_disposition_map(c.ozonetel.disposition_map);
       }},
      string_key<T>("ozonetel.default_disposition",
                    SB_FIELD(T, ozonetel.default_disposition),
                    "Campaign disposition sent when the agent set none (or an "
                    "unmapped one).",
                    secrecy::none,
                    [](const std::string& v) -> problem {
                      return v.empty() ? "must not be empty" : "";
                    }),
      seconds_key<T>(
          "ozonetel.acw_timeout_seconds",
          SB_FIELD(T, ozonetel.acw_timeout_seconds),
          "After a call ends, the default disposition is sent if the "
          "agent set none within this time (the seat must never stay "
          "in after-call work)."),
      string_key<T>("ozonetel.callback_token",
                    SB_FIELD(T, ozonetel.callback_token),
                    "Token CloudAgent's callback URL carries as ?token= "
                    "(CloudAgent cannot send headers).",
                    secrecy::secret),
      seconds_key<T>("ozonetel.request_timeout_seconds",
                     SB_FIELD(T, ozonetel.request_timeout_seconds),
                     "Timeout of one CloudAgent HTTP request."),
      seconds_key<T>("ozonetel.pending_outbound_seconds",
                     SB_FIELD(T, ozonetel.pending_outbound_seconds),
                     "Lifetime of the outbound-pending flag set by a manual "
                     "dial."),
      seconds_key<T>("ozonetel.subscribe_retry_max_seconds",
                     SB_FIELD(T, ozonetel.subscribe_retry_max_seconds),
                     "A failed Subscribe call is retried until it succeeds, "
                     "1 s doubling with jitter up to this interval."),
      string_key<T>("ozonetel.subscribe_base",
                    SB_FIELD(T, ozonetel.subscribe_base),
                    "CloudAgent Subscribe API base URL (e.g. "
                    "https://subscription.ozonetel.com); with "
                    "ozonetel.public_url set, switchboard subscribes to call "
                    "and agent events at start.",
                    secrecy::none,
                    [](const std::string& v) -> problem {
                      return v.empty() ? "" : check_http_url(v);
                    }),
      string_key<T>("ozonetel.public_url", SB_FIELD(T, ozonetel.public_url),
                    "This server's URL as CloudAgent reaches it; the event "
                    "receivers are <public_url>/api/ozonetel/events/calls and "
                    ".../agents with ?token=<ozonetel.callback_token>.",
                    secrecy::none,
                    [](const std::string& v) -> problem {
                      return v.empty() ? "" : check_http_url(v);
                    }),
      string_key<T>("ozonetel.timezone", SB_FIELD(T, ozonetel.timezone),
                    "The CloudAgent account's time zone: the callback's and "
                    "events' times are in it. An offset (+05:30), UTC, or an "
                    "IANA zone from the system's tzdata, daylight saving "
                    "time included (Asia/Kolkata, America/New_York, "
                    "Europe/London, ...). A local time the clocks skip is "
                    "moved on by the gap, a repeated one is its first pass.",
                    secrecy::none,
                    [](const std::string& v) -> problem {
                      auto zone = time_zone::get(v);
                      return zone ? "" : describe(zone.error());
                    }),
      seconds_key<T>("events.retention_hours",
                     SB_FIELD(T, events.retention_hours),
                     "Events older than this many hours are pruned from the "
                     "event log (GET /api/events, webhooks)."),
      seconds_key<T>("events.heartbeat_seconds",
                     SB_FIELD(T, events.heartbeat_seconds),
                     "GET /api/events sends a keep-alive comment this often."),
      seconds_key<T>("events.poll_seconds", SB_FIELD(T, events.poll_seconds),
                     "The event stream reads new events at least this often "
                     "(it is woken at once by this process's events and, on "
                     "PostgreSQL, by other instances' NOTIFY)."),
      count_key<T>("events.queue_max", SB_FIELD(T, events.queue_max),
                   "Events waiting to be written at most; past it new events "
                   "are dropped, counted and logged.",
                   1, 100000000),
      count_key<T>("events.subscriber_buffer_bytes",
                   SB_FIELD(T, events.subscriber_buffer_bytes),
                   "Bytes a stream subscriber may leave unread; past it the "
                   "subscriber is served from the table as it drains.",
                   1024, 1024ull * 1024 * 1024),
      seconds_key<T>("events.stall_seconds",
                     SB_FIELD(T, events.stall_seconds),
                     "A stream subscriber whose buffer stays full this long "
                     "(it stopped reading) is dropped with a final "
                     "stream.overflow event; keep it below the HTTP write "
                     "timeout (10 s)."),
      string_key<T>("log.level", SB_FIELD(T, log.level),
                    "Log level: debug, info, warning or error.", secrecy::none,
                    [](const std::string& v) -> problem {
                      sb::log::level lvl;
                      if (sb::log::parse_level(v, lvl))
                        return {};
                      return "'" + v
                             + "' is not a log level (debug, info, warning, "
                               "error)";
                    }),
  };
}

const std::vector<key_spec<app_config>>& app_keys() {
  static const std::vector<key_spec<app_config>> keys = [] {
    auto all = storage_and_http_keys();
    for (auto& key : call_keys())
      all.push_back(std::move(key));
    return all;
  }();
  return keys;
}

/// Keys of a `[pbx.<name>]` section.
const std::vector<key_spec<pbx_config>>& pbx_keys() {
  using T = pbx_config;
  static const std::vector<key_spec<T>> keys{
      string_key<T>("host", SB_FIELD(T, host),
                    "AMI host name or address (required).", secrecy::none,
                    [](const std::string& v) -> problem {
                      return v.empty() ? "must not be empty" : "";
                    }),
      {"port", "AMI TCP port.", secrecy::none,
       [](T& p, const std::string& v) { return parse_port(v, p.port); },
       [](const T& p) { return std::to_string(p.port); }},
      string_key<T>("username", SB_FIELD(T, username),
                    "AMI user (manager.conf section, required)."),
      string_key<T>("secret", SB_FIELD(T, secret), "AMI secret.",
                    secrecy::secret),
      {"auth",
       "Login method: plain (Secret) or md5 (Challenge, the secret never "
       "crosses the wire).",
       secrecy::none,
       [](T& p, const std::string& v) -> problem {
         auto text = lower(v);
         if (text == "plain")
           p.auth = ami_auth::plain;
         else if (text == "md5")
           p.auth = ami_auth::md5;
         else
           return "'" + v + "' is not an auth method (plain, md5)";
         return {};
       },
       [](const T& p) {
         return std::string{p.auth == ami_auth::md5 ? "md5" : "plain"};
       }},
      string_key<T>("events", SB_FIELD(T, events),
                    "Events: of the Login action: on, or a class list such as "
                    "call,cdr.",
                    secrecy::none,
                    [](const std::string& v) -> problem {
                      return v.empty() ? "must not be empty (on, or a class "
                                         "list such as call,cdr)"
                                       : "";
                    }),
      seconds_key<T>("ping_interval_seconds",
                     SB_FIELD(T, ping_interval_seconds),
                     "Seconds between keep-alive Pings."),
      seconds_key<T>("ping_timeout_seconds", SB_FIELD(T, ping_timeout_seconds),
                     "No Pong within this time = dead connection."),
      seconds_key<T>("login_timeout_seconds",
                     SB_FIELD(T, login_timeout_seconds),
                     "Banner and login must complete within this time."),
      count_key<T>("max_frame_bytes", SB_FIELD(T, max_frame_bytes),
                   "Frames larger than this are dropped and counted.", 256,
                   64ull * 1024 * 1024),
      count_key<T>("max_queued_bytes", SB_FIELD(T, max_queued_bytes),
                   "Bytes read from this PBX and not yet through the call "
                   "tracker; at the bound the socket is not read until the "
                   "pipeline caught up (flow control to the PBX).",
                   64ull * 1024, 1024ull * 1024 * 1024),
      count_key<T>("max_live_calls", SB_FIELD(T, max_live_calls),
                   "Calls of this PBX followed at once; a new call past it "
                   "is not followed (warned, counted in "
                   "switchboard_tracker_calls_refused_total).",
                   1, 10000000),
      list_key<T>(
          "trunks", SB_FIELD(T, trunks),
          "Channel-name prefixes of trunks besides the context rules "
          "(e.g. PJSIP/trunk-, SIP/carrier). Empty = rely on contexts."),
      list_key<T>(
          "inbound_contexts", SB_FIELD(T, inbound_contexts),
          "Dialplan contexts where calls from a trunk enter (inbound)."),
      list_key<T>("internal_contexts", SB_FIELD(T, internal_contexts),
                  "Contexts of calls placed by phones."),
      list_key<T>("outbound_contexts", SB_FIELD(T, outbound_contexts),
                  "Contexts through which calls leave towards a trunk "
                  "(outbound)."),
      string_key<T>("cdr_url", SB_FIELD(T, cdr_url),
                    "The PBX's CDR database, mysql://user@host[:port]/"
                    "asteriskcdrdb (FreePBX), read to catch up on calls whose "
                    "events were never seen. Empty = no catch-up.",
                    secrecy::url_password,
                    [](const std::string& v) -> problem {
                      return v.empty() || starts_with(v, "mysql://")
                                 ? ""
                                 : "must be mysql://user@host/database";
                    }),
      string_key<T>("cdr_password", SB_FIELD(T, cdr_password),
                    "Password of the CDR database user.", secrecy::secret),
      seconds_key<T>("cdr_catchup_hours", SB_FIELD(T, cdr_catchup_hours),
                     "At start-up, catch up from the last call logged from "
                     "this PBX, at most this many hours back."),
      string_key<T>("timezone", SB_FIELD(T, timezone),
                    "Time zone of the CDR's calldate (the PBX's local time): "
                    "UTC, an offset such as +05:30, or a zone name the CDR "
                    "server's time-zone tables know.",
                    secrecy::none,
                    [](const std::string& v) -> problem {
                      return v.empty() ? "must not be empty (UTC, +05:30, "
                                         "Europe/London)"
                                       : "";
                    }),
      string_key<T>("recording_url", SB_FIELD(T, recording_url),
                    "URL of a call's recording, {file} standing for the "
                    "recording's file name (e.g. https://pbx/rec/{file}). "
                    "Empty = entries carry the file name only."),
      string_key<T>("originate_channel", SB_FIELD(T, originate_channel),
                    "Click-to-call: the Originate's Channel; {extension} is "
                    "replaced by the extension asked for.",
                    secrecy::none,
                    [](const std::string& v) -> problem {
                      return v.find("{extension}") == std::string::npos
                                 ? "must contain {extension}"
                                 : "";
                    }),
      string_key<T>("originate_context", SB_FIELD(T, originate_context),
                    "Click-to-call: the dialplan context the number is "
                    "dialled from.",
                    secrecy::none,
                    [](const std::string& v) -> problem {
                      return v.empty() ? "must not be empty" : "";
                    }),
      string_key<T>("originate_caller_id", SB_FIELD(T, originate_caller_id),
                    "Click-to-call: the CallerID the agent's phone shows; "
                    "{name} (the customer, else the number), {phone_number}, "
                    "{extension}."),
      seconds_key<T>("originate_ring_seconds",
                     SB_FIELD(T, originate_ring_seconds),
                     "Click-to-call: how long the agent's phone rings before "
                     "the Originate gives up."),
      seconds_key<T>("originate_answer_seconds",
                     SB_FIELD(T, originate_answer_seconds),
                     "Click-to-call: how long the PBX may take to answer the "
                     "Originate action (then 504)."),
      count_key<T>("max_pending_originates",
                   SB_FIELD(T, max_pending_originates),
                   "Click-to-call: Originate actions sent to this PBX and "
                   "not yet answered; more are refused with 503.",
                   1, 10000),
  };
  return keys;
}

const std::vector<key_spec<ozonetel_agent_config>>& agent_keys() {
  using T = ozonetel_agent_config;
  static const std::vector<key_spec<T>> keys{
      string_key<T>("name", SB_FIELD(T, name), "The agent's display name."),
      string_key<T>("extension", SB_FIELD(T, extension),
                    "The agent's SIP extension or phone number (sent as "
                    "phoneNumber at agent login)."),
      string_key<T>("password", SB_FIELD(T, password),
                    "The agent's CloudAgent password (AgentAuthenticationV2, "
                    "HTTP Basic); give it as password_file.",
                    secrecy::secret),
  };
  return keys;
}

std::vector<std::string> agent_key_names() {
  std::vector<std::string> names;
  for (const auto& key : agent_keys())
    names.push_back(key.name);
  return names;
}

#undef SB_FIELD

std::string env_name_of(const std::string& dotted) {
  std::string out = "SWITCHBOARD_";
  for (char c : dotted)
    out.push_back(c == '.' || c == '-' ? '_'
                                       : static_cast<char>(std::toupper(
                                           static_cast<unsigned char>(c))));
  return out;
}

std::string key_list(const std::vector<std::string>& names) {
  return join(names, ", ");
}

std::vector<std::string> pbx_key_names() {
  std::vector<std::string> names;
  for (const auto& key : pbx_keys())
    names.push_back(key.name);
  return names;
}

std::vector<std::string> section_key_names(const std::string& section) {
  std::vector<std::string> names;
  for (const auto& key : app_keys()) {
    std::string name = key.name;
    if (starts_with(name, section + "."))
      names.push_back(name.substr(section.size() + 1));
  }
  return names;
}
caf::error validate(const app_config& cfg) {
  for (const auto& pbx : cfg.pbxes) {
    auto prefix = "pbx." + pbx.name + ".";
    if (pbx.host.empty())
      return make_config_error(prefix
                               + "host: missing (every configured PBX needs "
                                 "a host; remove the PBX or set its host)");
    if (pbx.username.empty())
      return make_config_error(prefix
                               + "username: missing (AMI login needs "
                                 "a user)");
  }
  const auto& oz = cfg.ozonetel;
  if (!oz.account.empty() && oz.api_key.empty())
    return make_config_error("ozonetel.api_key: missing (ozonetel.account is "
                             "set; give the key by "
                             "SWITCHBOARD_OZONETEL_API_KEY or "
                             "ozonetel.api_key_file)");
  if (oz.account.empty() && !oz.api_key.empty())
    return make_config_error("ozonetel.account: missing (ozonetel.api_key is "
                             "set)");
  if (!cfg.http.token.empty() && cfg.http.token == cfg.http.read_token)
    return make_config_error("http.read_token: must differ from http.token");
  return validate_webhooks(cfg);
}

} // namespace config_detail

using namespace config_detail;

std::string describe(const app_config& cfg) {
  std::ostringstream out;
  // Each secret gets its own mask, so that the dump reads back as a valid
  // config (http.read_token must differ from http.token); empty stays empty.
  auto value_of
      = [](const auto& spec, const auto& target, const std::string& dotted) {
          auto text = spec.get(target);
          switch (spec.secret) {
            case secrecy::secret:
              return text.empty() ? std::string{}
                                  : ini_quote("*** (masked " + dotted + ")");
            case secrecy::url_password:
              return ini_quote(redact_url(text));
            default:
              return ini_quote(text);
          }
        };
  if (!cfg.config_file.empty())
    out << "# loaded from " << cfg.config_file << "\n";
  std::string section;
  for (const auto& spec : app_keys()) {
    std::string dotted = spec.name;
    // Its own section below: campaign names may hold ',' and '='.
    if (dotted == "ozonetel.disposition_map")
      continue;
    auto dot = dotted.find('.');
    auto this_section = dotted.substr(0, dot);
    if (this_section != section) {
      out << (section.empty() ? "" : "\n") << "[" << this_section << "]\n";
      section = this_section;
    }
    out << dotted.substr(dot + 1) << " = " << value_of(spec, cfg, dotted)
        << "\n";
  }
  if (!cfg.ozonetel.disposition_map.empty()) {
    out << "\n[ozonetel.disposition_map]\n";
    for (const auto& [name, value] : cfg.ozonetel.disposition_map)
      out << name << " = " << ini_quote(value) << "\n";
  }
  for (const auto& pbx : cfg.pbxes) {
    out << "\n[pbx." << pbx.name << "]\n";
    for (const auto& spec : pbx_keys())
      out << spec.name << " = "
          << value_of(spec, pbx, "pbx." + pbx.name + "." + spec.name) << "\n";
  }
  if (cfg.pbxes.empty())
    out << "\n# no PBX configured: no AMI connection\n";
  describe_webhooks(out, cfg);
  return out.str();
}

std::string help_text() {
  std::ostringstream out;
  out << "usage: switchboard [--config FILE] [--<section>.<key>=VALUE ...] "
         "[demo | import-customers FILE]\n"
         "\n"
         "Every key can be set in the config file ([section] key = value), "
         "by environment\n"
         "variable and by command-line flag; later sources win: defaults < "
         "file <\n"
         "environment < command line. AMI_HOST, AMI_PORT, AMI_USERNAME and "
         "AMI_PASSWORD\n"
         "configure the PBX named \"default\". Secrets (marked *) are "
         "accepted only from the\n"
         "file, the environment, or <key>_file (a path whose contents are the "
         "secret).\n"
         "The config file may also be given by SWITCHBOARD_CONFIG.\n";
  auto sources
      = [](const std::string& dotted, const std::string& env, secrecy secret) {
          std::string text = "env " + env;
          if (secret != secrecy::none)
            text += " or " + env + "_FILE";
          if (secret == secrecy::secret)
            text += ", flag --" + dotted + "_file (never on the command line)";
          else if (secret == secrecy::url_password)
            text += ", flag --" + dotted + " (without password) or --" + dotted
                    + "_file";
          else
            text += ", flag --" + dotted;
          return text;
        };
  app_config defaults;
  std::string section;
  for (const auto& spec : app_keys()) {
    std::string dotted = spec.name;
    auto this_section = dotted.substr(0, dotted.find('.'));
    if (this_section != section) {
      out << "\n[" << this_section << "]\n";
      section = this_section;
    }
    auto def = spec.get(defaults);
    out << "  " << dotted << (spec.secret == secrecy::secret ? " *" : "")
        << " = " << (def.empty() ? "(empty)" : def) << "\n      "
        << sources(dotted, env_name_of(dotted), spec.secret) << "\n      "
        << spec.help << "\n";
  }
  out << "\n[pbx.<name>]   one section per PBX (none = no AMI connection)\n";
  pbx_config pbx_defaults;
  for (const auto& spec : pbx_keys()) {
    std::string dotted = std::string{"pbx.<name>."} + spec.name;
    auto def = spec.get(pbx_defaults);
    out << "  " << dotted << (spec.secret == secrecy::secret ? " *" : "")
        << " = " << (def.empty() ? "(empty)" : def) << "\n      "
        << sources(dotted, "SWITCHBOARD_PBX_<NAME>_" + upper(spec.name),
                   spec.secret)
        << "\n      " << spec.help << "\n";
  }
  help_webhooks(out);
  out << "\nSub-commands: demo (replay a recorded call stream), "
         "import-customers FILE.\n";
  return out.str();
}

} // namespace sb
