// The keys of a `[webhook.<name>]` section and the checks across them.

#include <algorithm>
#include <cctype>

#include "config/key_table.hpp"
#include "core/strings.hpp"

namespace sb::config_detail {

namespace {

/// An event type as the event log writes them: `call.ringing`,
/// `ozonetel.agent_state` (lower case, a dot between the parts).
bool valid_event_type(const std::string& type) {
  if (type.empty() || type.find('.') == std::string::npos
      || type.front() == '.' || type.back() == '.')
    return false;
  return std::all_of(type.begin(), type.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) != 0
           || std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.'
           || c == '_';
  });
}

problem parse_event_types(const std::string& text,
                          std::vector<std::string>& out) {
  auto types = split_list(text);
  for (const auto& type : types)
    if (!valid_event_type(type))
      return "'" + type
             + "' is not an event type (such as call.ringing, call.logged; "
               "comma-separated, empty = every type)";
  out = std::move(types);
  return {};
}

template <class Field>
key_spec<webhook_config> seconds(const char* name, Field field,
                                 const char* help) {
  return {name, help, secrecy::none,
          [field](webhook_config& w, const std::string& v) -> problem {
            return parse_seconds(v, field(w), false);
          },
          [field](const webhook_config& w) {
            return format_number(field(w));
          }};
}

} // namespace

const std::vector<key_spec<webhook_config>>& webhook_keys() {
  using T = webhook_config;
  static const std::vector<key_spec<T>> keys{
      {"url",
       "Where the events are POSTed: http://host[:port]/path or https://... "
       "(required).",
       secrecy::none,
       [](T& w, const std::string& v) -> problem {
         auto p = check_http_url(v);
         if (!p.empty())
           return p;
         w.url = v;
         return {};
       },
       [](const T& w) { return w.url; }},
      {"secret",
       "Key of X-Switchboard-Signature (HMAC-SHA256 of timestamp + '.' + "
       "body), required; give it by environment or secret_file.",
       secrecy::secret,
       [](T& w, const std::string& v) -> problem {
         if (v.empty())
           return "must not be empty";
         w.secret = v;
         return {};
       },
       [](const T& w) { return w.secret; }},
      {"events",
       "Event types sent, comma-separated (call.ringing, call.logged, ...); "
       "empty = every type.",
       secrecy::none,
       [](T& w, const std::string& v) { return parse_event_types(v, w.events); },
       [](const T& w) { return join(w.events, ", "); }},
      seconds("timeout_seconds",
              [](auto& w) -> auto& { return w.timeout_seconds; },
              "One delivery (connect, send, answer) must finish within this "
              "time, else it is retried."),
      {"max_attempts",
       "Attempts of one event (5xx, 408, 429, timeout, refused) before it "
       "is dead-lettered and skipped.",
       secrecy::none,
       [](T& w, const std::string& v) -> problem {
         uint64_t n = 0;
         auto p = parse_unsigned(v, n, 1, 1000000);
         if (p.empty())
           w.max_attempts = static_cast<size_t>(n);
         return p;
       },
       [](const T& w) { return std::to_string(w.max_attempts); }},
      seconds("retry_initial_seconds",
              [](auto& w) -> auto& { return w.retry_initial_seconds; },
              "Wait before the first retry; each further retry waits twice "
              "as long (drawn from [0.75 d, d])."),
      seconds("retry_max_seconds",
              [](auto& w) -> auto& { return w.retry_max_seconds; },
              "Longest wait between two attempts."),
  };
  return keys;
}

std::vector<std::string> webhook_key_names() {
  std::vector<std::string> names;
  for (const auto& key : webhook_keys())
    names.emplace_back(key.name);
  return names;
}

void describe_webhooks(std::ostream& out, const app_config& cfg) {
  for (const auto& hook : cfg.webhooks) {
    out << "\n[webhook." << hook.name << "]\n";
    for (const auto& spec : webhook_keys()) {
      auto text = spec.get(hook);
      auto dotted = "webhook." + hook.name + "." + spec.name;
      if (spec.secret == secrecy::secret && !text.empty())
        text = "*** (masked " + dotted + ")";
      out << spec.name << " = " << ini_quote(text) << "\n";
    }
  }
}

void help_webhooks(std::ostream& out) {
  out << "\n[webhook.<name>]   one section per endpoint the events are "
         "POSTed to\n";
  webhook_config defaults;
  for (const auto& spec : webhook_keys()) {
    std::string dotted = std::string{"webhook.<name>."} + spec.name;
    auto env = "SWITCHBOARD_WEBHOOK_<NAME>_" + upper(spec.name);
    auto def = spec.get(defaults);
    out << "  " << dotted << (spec.secret == secrecy::secret ? " *" : "")
        << " = " << (def.empty() ? "(empty)" : def) << "\n      env " << env;
    if (spec.secret == secrecy::secret)
      out << " or " << env << "_FILE, flag --" << dotted
          << "_file (never on the command line)";
    else
      out << ", flag --" << dotted;
    out << "\n      " << spec.help << "\n";
  }
}

caf::error validate_webhooks(const app_config& cfg) {
  for (const auto& w : cfg.webhooks) {
    auto prefix = "webhook." + w.name + ".";
    if (w.url.empty())
      return make_config_error(prefix
                               + "url: missing (every configured webhook "
                                 "needs a url; remove the section or set it)");
    if (w.secret.empty()) {
      std::string text = prefix;
      text += "secret: missing (receivers check the signature; give it ";
      text += env_name_of(prefix + "secret");
      text += " or ";
      text += prefix;
      text += "secret_file)";
      return make_config_error(std::move(text));
    }
    if (w.retry_max_seconds < w.retry_initial_seconds)
      return make_config_error(prefix
                               + "retry_max_seconds: must not be below "
                                 "retry_initial_seconds");
  }
  return caf::none;
}

} // namespace sb::config_detail
