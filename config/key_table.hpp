#pragma once

// Inside config/ only: switchboard's keys as data (keys.cpp) and what the
// sources (sources.cpp: the INI file, the environment, the command line,
// `<key>_file`) need from them.

#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>

#include "config/config.hpp"

namespace sb::config_detail {

/// What is wrong with a value ("" = nothing); never quotes a secret.
using problem = std::string;

enum class source_kind { file, env, cli };

/// Where a value came from, for error messages.
struct origin {
  source_kind kind;
  /// "path:line", the environment variable's name, or "command line".
  std::string where;
};

caf::error make_config_error(std::string text);

caf::error fail(const origin& from, const std::string& key,
                const std::string& what);

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

/// The plain sections ("db", "http", ...), in the order describe() prints.
const std::vector<std::string>& section_names();

/// Keys of the plain sections, named "<section>.<key>".
const std::vector<key_spec<app_config>>& app_keys();

/// Keys of a `[pbx.<name>]` section.
const std::vector<key_spec<pbx_config>>& pbx_keys();

/// Keys of an `[ozonetel.agent.<id>]` section.
const std::vector<key_spec<ozonetel_agent_config>>& agent_keys();

std::vector<std::string> agent_key_names();

/// Keys of a `[webhook.<name>]` section (webhook_keys.cpp).
const std::vector<key_spec<webhook_config>>& webhook_keys();

std::vector<std::string> webhook_key_names();

/// The webhook named `name` (compared as PBX names are), added when new.
webhook_config& webhook_named(app_config& cfg, const std::string& name);

/// The `[webhook.<name>]` sections of describe() (secrets masked) and of
/// help_text().
void describe_webhooks(std::ostream& out, const app_config& cfg);
void help_webhooks(std::ostream& out);

/// Every webhook has what it needs (url, secret).
caf::error validate_webhooks(const app_config& cfg);

// -- value helpers (keys.cpp) -------------------------------------------------

std::vector<std::string> split_list(const std::string& text);
std::string join(const std::vector<std::string>& items, const char* sep);
std::string format_number(double x);
problem parse_unsigned(const std::string& text, uint64_t& out, uint64_t min,
                       uint64_t max);
problem parse_seconds(const std::string& text, double& out, bool allow_zero);
problem check_http_url(const std::string& text);

template <class Target>
const key_spec<Target>* find_key(const std::vector<key_spec<Target>>& keys,
                                 const std::string& name) {
  for (const auto& key : keys)
    if (name == key.name)
      return &key;
  return nullptr;
}

/// `db.url` -> `SWITCHBOARD_DB_URL`.
std::string env_name_of(const std::string& dotted);

std::string key_list(const std::vector<std::string>& names);

std::vector<std::string> pbx_key_names();

/// The keys of one plain section, without the section prefix.
std::vector<std::string> section_key_names(const std::string& section);

bool valid_pbx_name(const std::string& name);

bool url_has_password(const std::string& url);

/// The value part of an INI `key = value` line. The rule: an unquoted value
/// ends where a `#` or `;` preceded by whitespace starts a comment
/// (`db.url = sqlite:x.db  # main db` is `sqlite:x.db`); a value that needs
/// such a `#` or `;`, or leading/trailing spaces, is written in double
/// quotes, inside which `\"` and `\\` stand for `"` and `\`. After the
/// closing quote only a comment may follow.
problem ini_value(std::string_view raw, std::string& out);

/// `value` written so that ini_value() reads it back unchanged.
std::string ini_quote(const std::string& value);

/// Checks across keys, once every source has been applied.
caf::error validate(const app_config& cfg);

} // namespace sb::config_detail
