#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>

#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "core/db_url.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"

namespace sb {

namespace {

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

// -- where a value came from --------------------------------------------------

enum class source_kind { file, env, cli };

struct origin {
  source_kind kind;
  /// "path:line", the environment variable's name, or "command line".
  std::string where;
};

caf::error make_config_error(std::string text) {
  return caf::make_error(caf::sec::invalid_argument, std::move(text));
}

caf::error fail(const origin& from, const std::string& key,
                const std::string& problem) {
  if (from.where.empty())
    return make_config_error(key + ": " + problem);
  return make_config_error(from.where + ": " + key + ": " + problem);
}

// -- value parsers: return a problem (never quoting a secret) or "" -----------

using problem = std::string;

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
    out += name + "=" + value;
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

enum class secrecy {
  none,
  /// The whole value is a secret.
  secret,
  /// Only a password inside the (postgresql) URL is.
  url_password,
};

template <class Target>
struct key_spec {
  const char* name;
  const char* help;
  secrecy secret;
  std::function<problem(Target&, const std::string&)> set;
  std::function<std::string(const Target&)> get;
};

template <class Target, class Field>
key_spec<Target> string_key(const char* name, Field field, const char* help,
                            secrecy secret = secrecy::none,
                            std::function<problem(const std::string&)> check
                            = {}) {
  return {name, help, secret,
          [field, check](Target& t, const std::string& v) -> problem {
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

#define SB_FIELD(Target, expr)                                                 \
  [](auto& c) -> auto& {                                                       \
    return c.expr;                                                             \
  }

const std::vector<std::string>& section_names() {
  static const std::vector<std::string> names{"db",      "http",     "phone",
                                              "tracker", "ozonetel", "log"};
  return names;
}

/// Keys of the plain sections, named "<section>.<key>".
const std::vector<key_spec<app_config>>& app_keys() {
  using T = app_config;
  static const std::vector<key_spec<T>> keys{
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
      string_key<T>(
          "phone.default_region", SB_FIELD(T, phone.default_region),
          "ISO 3166 region (two letters) for numbers written without "
          "a country code.",
          secrecy::none,
          [](const std::string& v) -> problem {
            if (v.size() == 2 && std::isalpha(static_cast<unsigned char>(v[0]))
                && std::isalpha(static_cast<unsigned char>(v[1])))
              return {};
            return "'" + v
                   + "' is not a two-letter ISO 3166 region (e.g. GB, "
                     "IN, US)";
          }),
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
  };
  return keys;
}

#undef SB_FIELD

template <class Target>
const key_spec<Target>* find_key(const std::vector<key_spec<Target>>& keys,
                                 const std::string& name) {
  for (const auto& key : keys)
    if (name == key.name)
      return &key;
  return nullptr;
}

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

// -- applying one setting
// -------------------------------------------------------

bool names_equal(const std::string& x, const std::string& y) {
  if (x.size() != y.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i) {
    auto a = std::tolower(static_cast<unsigned char>(x[i]));
    auto b = std::tolower(static_cast<unsigned char>(y[i]));
    if (a == '-')
      a = '_';
    if (b == '-')
      b = '_';
    if (a != b)
      return false;
  }
  return true;
}

pbx_config& pbx_named(app_config& cfg, const std::string& name) {
  for (auto& pbx : cfg.pbxes)
    if (names_equal(pbx.name, name))
      return pbx;
  pbx_config pbx;
  pbx.name = name;
  cfg.pbxes.push_back(std::move(pbx));
  return cfg.pbxes.back();
}

caf::expected<std::string> read_secret_file(const origin& from,
                                            const std::string& key,
                                            const std::string& path) {
  if (path.empty())
    return fail(from, key, "empty path");
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return fail(from, key, "cannot read '" + path + "'");
  std::ostringstream content;
  content << in.rdbuf();
  auto text = content.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  return text;
}

/// Tracks, within one source, which secrets were given directly and which by
/// `<key>_file`, so that giving both is refused instead of one silently
/// winning.
struct source_state {
  std::set<std::string> direct;
  std::set<std::string> by_file;
};

/// What `--<flag>` to suggest for a key.
std::string env_suggestion(const std::string& dotted) {
  return env_name_of(dotted) + " or " + dotted + "_file";
}

template <class Target>
caf::error apply_key(Target& target, const std::vector<key_spec<Target>>& keys,
                     const std::string& prefix, const std::string& key,
                     const std::string& value, const origin& from,
                     source_state& state,
                     const std::vector<std::string>& known_names) {
  auto dotted = prefix + key;
  bool from_file = false;
  const key_spec<Target>* spec = find_key(keys, key);
  if (spec == nullptr && ends_with(key, "_file")) {
    auto base = key.substr(0, key.size() - 5);
    spec = find_key(keys, base);
    if (spec != nullptr && spec->secret == secrecy::none)
      spec = nullptr; // only secrets have a _file form
    from_file = spec != nullptr;
  }
  if (spec == nullptr)
    return fail(from, dotted,
                "unknown key (known: " + key_list(known_names) + ")");
  auto secret_key = prefix + spec->name;
  if (!from_file && from.kind == source_kind::cli) {
    if (spec->secret == secrecy::secret)
      return fail(from, secret_key,
                  "secrets are not accepted on the command line (visible to "
                  "every user in ps); use the environment ("
                      + env_suggestion(secret_key) + ")");
    if (spec->secret == secrecy::url_password && url_has_password(value))
      return fail(from, secret_key,
                  "a database password is not accepted on the command line "
                  "(visible to every user in ps); use the environment ("
                      + env_suggestion(secret_key) + ")");
  }
  auto& mine = from_file ? state.by_file : state.direct;
  auto& other = from_file ? state.direct : state.by_file;
  if (other.count(secret_key) > 0)
    return fail(from, secret_key,
                "given both as " + secret_key + " and " + secret_key
                    + "_file; give one");
  mine.insert(secret_key);
  std::string text = value;
  if (from_file) {
    auto content = read_secret_file(from, dotted, value);
    if (!content)
      return content.error();
    text = std::move(*content);
  }
  auto p = spec->set(target, text);
  if (!p.empty()) {
    if (spec->secret == secrecy::secret)
      return fail(from, secret_key, "invalid value");
    return fail(from, secret_key, p);
  }
  return caf::none;
}

caf::error apply_setting(app_config& cfg, const std::string& section,
                         const std::string& key, const std::string& value,
                         const origin& from, source_state& state) {
  if (starts_with(section, "pbx.")) {
    auto name = section.substr(4);
    if (!valid_pbx_name(name))
      return fail(from, section,
                  "PBX name '" + name
                      + "' must be letters, digits, '_' or '-'");
    auto& pbx = pbx_named(cfg, name);
    return apply_key(pbx, pbx_keys(), "pbx." + pbx.name + ".", key, value, from,
                     state, pbx_key_names());
  }
  if (section == "ozonetel.disposition_map") {
    auto name = trim_copy(key);
    if (name.empty() || value.empty())
      return fail(from, "ozonetel.disposition_map",
                  "entry must be NAME = Campaign Disposition");
    cfg.ozonetel.disposition_map[name] = value;
    return caf::none;
  }
  if (std::find(section_names().begin(), section_names().end(), section)
      == section_names().end())
    return fail(from, section,
                "unknown section (known: " + key_list(section_names())
                    + ", pbx.<name>, ozonetel.disposition_map)");
  return apply_key(cfg, app_keys(), "", section + "." + key, value, from, state,
                   section_key_names(section));
}

// -- the file
// -------------------------------------------------------------------

caf::error parse_file_into(app_config& cfg, const std::string& text,
                           const std::string& file_name) {
  source_state state;
  std::string section;
  std::istringstream in{text};
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    origin from{source_kind::file, file_name + ":" + std::to_string(line_no)};
    auto content = trim_copy(line);
    if (content.empty() || content[0] == '#' || content[0] == ';')
      continue;
    if (content[0] == '[') {
      if (content.back() != ']')
        return make_config_error(from.where
                                 + ": a section header must end with ']'");
      auto name = trim_copy(content.substr(1, content.size() - 2));
      if (starts_with(lower(name), "pbx.")) {
        section = "pbx." + name.substr(4);
        if (!valid_pbx_name(name.substr(4)))
          return fail(from, "[" + name + "]",
                      "PBX name must be letters, digits, '_' or '-'");
        pbx_named(cfg, name.substr(4));
        continue;
      }
      section = lower(name);
      if (section != "ozonetel.disposition_map"
          && std::find(section_names().begin(), section_names().end(), section)
                 == section_names().end())
        return fail(from, "[" + name + "]",
                    "unknown section (known: " + key_list(section_names())
                        + ", pbx.<name>, ozonetel.disposition_map)");
      continue;
    }
    auto eq = content.find('=');
    if (eq == std::string::npos)
      return make_config_error(from.where + ": expected 'key = value'");
    auto key = trim_copy(content.substr(0, eq));
    auto value = trim_copy(content.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (key.empty())
      return make_config_error(from.where + ": expected 'key = value'");
    if (section.empty())
      return fail(from, key, "key outside a section (start with e.g. [db])");
    if (section != "ozonetel.disposition_map")
      key = lower(key);
    if (auto err = apply_setting(cfg, section, key, value, from, state))
      return err;
  }
  return caf::none;
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
  return caf::none;
}

std::string read_whole_file(const std::string& path, bool& ok) {
  std::ifstream in{path, std::ios::binary};
  ok = static_cast<bool>(in);
  std::ostringstream content;
  if (ok)
    content << in.rdbuf();
  return content.str();
}

// -- environment
// ------------------------------------------------------------------

constexpr std::string_view env_prefix = "SWITCHBOARD_";

caf::error apply_env_var(app_config& cfg, const std::string& name,
                         const std::string& value, source_state& state) {
  origin from{source_kind::env, name};
  auto rest = name.substr(env_prefix.size());
  if (rest == "CONFIG")
    return caf::none;
  auto underscore = rest.find('_');
  if (underscore == std::string::npos)
    return caf::none;
  auto section = lower(rest.substr(0, underscore));
  auto key = lower(rest.substr(underscore + 1));
  if (section == "pbx") {
    // SWITCHBOARD_PBX_<NAME>_<KEY>: both may hold '_', so the longest known
    // key (or its _file form) at the end wins.
    std::string best_key;
    for (const auto& spec : pbx_keys()) {
      std::vector<std::string> forms{spec.name};
      if (spec.secret != secrecy::none)
        forms.push_back(std::string{spec.name} + "_file");
      for (const auto& form : forms)
        if (key.size() > form.size() + 1 && ends_with(key, "_" + form)
            && form.size() > best_key.size())
          best_key = form;
    }
    if (best_key.empty())
      return make_config_error(name
                               + ": unknown PBX setting (expected "
                                 "SWITCHBOARD_PBX_<NAME>_<KEY>, keys: "
                               + key_list(pbx_key_names()) + ")");
    auto pbx_name = key.substr(0, key.size() - best_key.size() - 1);
    if (!valid_pbx_name(pbx_name))
      return make_config_error(name + ": bad PBX name");
    auto& pbx = pbx_named(cfg, pbx_name);
    return apply_key(pbx, pbx_keys(), "pbx." + pbx.name + ".", best_key, value,
                     from, state, pbx_key_names());
  }
  if (std::find(section_names().begin(), section_names().end(), section)
      == section_names().end())
    return caf::none; // e.g. SWITCHBOARD_CMAKE_ARGS: not ours
  return apply_key(cfg, app_keys(), "", section + "." + key, value, from, state,
                   section_key_names(section));
}

// -- command line
// -----------------------------------------------------------------

struct cli_setting {
  std::string flag; // without the leading "--"
  std::string value;
};

caf::error apply_cli(app_config& cfg, const cli_setting& setting,
                     source_state& state) {
  origin from{source_kind::cli, "command line"};
  const auto& flag = setting.flag;
  auto dot = flag.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == flag.size())
    return make_config_error("--" + flag
                             + ": unknown option (flags are "
                               "--<section>.<key>=<value>; see --help)");
  auto section = flag.substr(0, dot);
  auto key = lower(flag.substr(dot + 1));
  if (lower(section) == "pbx" || starts_with(lower(section), "pbx.")) {
    if (lower(section) == "pbx")
      return make_config_error("--" + flag + ": name the PBX: --pbx.<name>."
                               + key);
    section = "pbx." + section.substr(4);
  } else {
    section = lower(section);
  }
  if (section == "ozonetel.disposition_map")
    return apply_setting(cfg, section, flag.substr(dot + 1), setting.value,
                         from, state);
  return apply_setting(cfg, section, key, setting.value, from, state);
}

} // namespace

// -- public API
// -------------------------------------------------------------------

caf::expected<app_config> parse_config_text(const std::string& text,
                                            app_config base) {
  if (auto err = parse_file_into(base, text, "config"))
    return err;
  if (auto err = validate(base))
    return err;
  return base;
}

caf::expected<app_config> load_config(int argc, const char* const* argv,
                                      const char* const* envp,
                                      std::vector<std::string>* positional) {
  app_config cfg;
  std::vector<cli_setting> flags;
  std::vector<std::string> rest;
  std::string config_path;
  bool config_from_cli = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i)
        rest.emplace_back(argv[i]);
      break;
    }
    if (arg == "--help" || arg == "-h") {
      app_config help;
      help.help_requested = true;
      return help;
    }
    if (!starts_with(arg, "--")) {
      if (starts_with(arg, "-") && arg.size() > 1)
        return make_config_error(arg + ": unknown option (see --help)");
      rest.push_back(arg);
      continue;
    }
    auto body = arg.substr(2);
    std::string name;
    std::string value;
    auto eq = body.find('=');
    if (eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
    } else {
      name = body;
      if (i + 1 >= argc || starts_with(argv[i + 1], "--"))
        return make_config_error("--" + name + ": missing value");
      value = argv[++i];
    }
    if (name == "config") {
      config_path = value;
      config_from_cli = true;
      continue;
    }
    flags.push_back({name, value});
  }

  std::vector<std::pair<std::string, std::string>> env;
  for (auto p = envp; p != nullptr && *p != nullptr; ++p) {
    std::string entry = *p;
    auto eq = entry.find('=');
    if (eq == std::string::npos)
      continue;
    env.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  if (!config_from_cli)
    for (const auto& [name, value] : env)
      if (name == "SWITCHBOARD_CONFIG" && !value.empty())
        config_path = value;

  // 1. the file
  if (!config_path.empty()) {
    bool ok = false;
    auto text = read_whole_file(config_path, ok);
    if (!ok)
      return make_config_error("config: cannot read '" + config_path + "'");
    if (auto err = parse_file_into(cfg, text, config_path))
      return err;
    cfg.config_file = config_path;
  }

  // 2. the environment: AMI_* seeds first, so SWITCHBOARD_PBX_DEFAULT_*
  // (more specific) wins over them.
  {
    source_state state;
    static const std::vector<std::pair<std::string, std::string>> seeds{
        {"AMI_HOST", "host"},
        {"AMI_PORT", "port"},
        {"AMI_USERNAME", "username"},
        {"AMI_PASSWORD", "secret"}};
    for (const auto& [seed, key] : seeds)
      for (const auto& [name, value] : env)
        if (name == seed && !value.empty()) {
          auto& pbx = pbx_named(cfg, "default");
          if (auto err = apply_key(pbx, pbx_keys(), "pbx." + pbx.name + ".",
                                   key, value, origin{source_kind::env, seed},
                                   state, pbx_key_names()))
            return err;
        }
  }
  {
    source_state state;
    for (const auto& [name, value] : env)
      if (starts_with(name, env_prefix))
        if (auto err = apply_env_var(cfg, name, value, state))
          return err;
  }

  // 3. the command line
  {
    source_state state;
    for (const auto& flag : flags)
      if (auto err = apply_cli(cfg, flag, state))
        return err;
  }

  if (auto err = validate(cfg))
    return err;
  if (positional != nullptr)
    *positional = std::move(rest);
  return cfg;
}

std::string describe(const app_config& cfg) {
  std::ostringstream out;
  auto value_of = [](const auto& spec, const auto& target) {
    auto text = spec.get(target);
    switch (spec.secret) {
      case secrecy::secret:
        // Empty stays empty so that the dump reads back as the same config.
        return text.empty() ? std::string{} : std::string{"***"};
      case secrecy::url_password:
        return redact_url(text);
      default:
        return text;
    }
  };
  if (!cfg.config_file.empty())
    out << "# loaded from " << cfg.config_file << "\n";
  std::string section;
  for (const auto& spec : app_keys()) {
    std::string dotted = spec.name;
    auto dot = dotted.find('.');
    auto this_section = dotted.substr(0, dot);
    if (this_section != section) {
      out << (section.empty() ? "" : "\n") << "[" << this_section << "]\n";
      section = this_section;
    }
    out << dotted.substr(dot + 1) << " = " << value_of(spec, cfg) << "\n";
  }
  for (const auto& pbx : cfg.pbxes) {
    out << "\n[pbx." << pbx.name << "]\n";
    for (const auto& spec : pbx_keys())
      out << spec.name << " = " << value_of(spec, pbx) << "\n";
  }
  if (cfg.pbxes.empty())
    out << "\n# no PBX configured: no AMI connection\n";
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
  out << "\nSub-commands: demo (replay a recorded call stream), "
         "import-customers FILE.\n";
  return out.str();
}

std::string error_text(const caf::error& err) {
  if (!err)
    return {};
  const auto& context = err.context();
  if (context.size() == 1 && context.match_element<std::string>(0))
    return context.get_as<std::string>(0);
  return caf::to_string(err);
}

} // namespace sb
