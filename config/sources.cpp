#include "config/key_table.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include <caf/message.hpp>

#include "core/strings.hpp"

namespace sb {

using namespace config_detail;

namespace {

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

ozonetel_agent_config& agent_named(app_config& cfg, const std::string& id) {
  for (auto& agent : cfg.ozonetel.agents)
    if (agent.id == id)
      return agent;
  ozonetel_agent_config agent;
  agent.id = id;
  cfg.ozonetel.agents.push_back(std::move(agent));
  return cfg.ozonetel.agents.back();
}

constexpr std::string_view agent_section = "ozonetel.agent.";
constexpr std::string_view webhook_section = "webhook.";

/// The sections one may name besides the plain ones, for error messages.
const char* const named_sections
    = ", pbx.<name>, webhook.<name>, ozonetel.agent.<id>, "
      "ozonetel.disposition_map";

/// In `<NAME>_<KEY>` (both may hold '_'), the longest key of `keys` (or
/// its _file form, for secrets) that ends it; "" when none does.
template <class Target>
std::string key_suffix(const std::vector<key_spec<Target>>& keys,
                       const std::string& name_and_key) {
  std::string best;
  for (const auto& spec : keys) {
    std::vector<std::string> forms{spec.name};
    if (spec.secret != secrecy::none)
      forms.push_back(std::string{spec.name} + "_file");
    for (const auto& form : forms)
      if (name_and_key.size() > form.size() + 1
          && ends_with(name_and_key, "_" + form) && form.size() > best.size())
        best = form;
  }
  return best;
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
  if (starts_with(section, std::string{webhook_section})) {
    auto name = section.substr(webhook_section.size());
    if (!valid_pbx_name(name))
      return fail(from, section,
                  "webhook name '" + name
                      + "' must be letters, digits, '_' or '-'");
    auto& hook = webhook_named(cfg, name);
    return apply_key(hook, webhook_keys(), "webhook." + hook.name + ".", key,
                     value, from, state, webhook_key_names());
  }
  if (starts_with(section, std::string{agent_section})) {
    auto id = section.substr(agent_section.size());
    if (!valid_pbx_name(id))
      return fail(from, section,
                  "agent id '" + id + "' must be letters, digits, '_' or '-'");
    auto& agent = agent_named(cfg, id);
    return apply_key(agent, agent_keys(), section + ".", key, value, from,
                     state, agent_key_names());
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
                    + named_sections + ")");
  return apply_key(cfg, app_keys(), "", section + "." + key, value, from, state,
                   section_key_names(section));
}

// -- the file
// -------------------------------------------------------------------

/// The end of `text` that is a comment (from a '#' or ';' that starts the
/// text or follows whitespace), or npos.
size_t comment_start(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i)
    if ((text[i] == '#' || text[i] == ';') && (i == 0 || is_space(text[i - 1])))
      return i;
  return std::string_view::npos;
}

/// A section header line: `[name]`, optionally followed by a comment.
caf::error read_section(app_config& cfg, std::string_view content,
                        const origin& from, std::string& section) {
  auto close = content.find(']');
  if (close == std::string_view::npos
      || !trim(content.substr(close + 1,
                              comment_start(content.substr(close + 1))))
              .empty())
    return make_config_error(from.where
                             + ": a section header must end with ']'");
  auto name = trim_copy(content.substr(1, close - 1));
  if (starts_with(lower(name), "pbx.")) {
    section = "pbx." + name.substr(4);
    if (!valid_pbx_name(name.substr(4)))
      return fail(from, "[" + name + "]",
                  "PBX name must be letters, digits, '_' or '-'");
    pbx_named(cfg, name.substr(4));
    return caf::none;
  }
  if (starts_with(lower(name), std::string{webhook_section})) {
    auto hook = name.substr(webhook_section.size());
    if (!valid_pbx_name(hook))
      return fail(from, "[" + name + "]",
                  "webhook name must be letters, digits, '_' or '-'");
    section = std::string{webhook_section} + hook;
    webhook_named(cfg, hook);
    return caf::none;
  }
  if (starts_with(lower(name), std::string{agent_section})) {
    auto id = name.substr(agent_section.size());
    if (!valid_pbx_name(id))
      return fail(from, "[" + name + "]",
                  "agent id must be letters, digits, '_' or '-'");
    section = std::string{agent_section} + id;
    agent_named(cfg, id);
    return caf::none;
  }
  section = lower(name);
  if (section != "ozonetel.disposition_map"
      && std::find(section_names().begin(), section_names().end(), section)
             == section_names().end())
    return fail(from, "[" + name + "]",
                "unknown section (known: " + key_list(section_names())
                    + named_sections + ")");
  return caf::none;
}

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
      if (auto err = read_section(cfg, content, from, section))
        return err;
      continue;
    }
    auto eq = content.find('=');
    if (eq == std::string::npos)
      return make_config_error(from.where + ": expected 'key = value'");
    auto key = trim_copy(content.substr(0, eq));
    if (key.empty())
      return make_config_error(from.where + ": expected 'key = value'");
    if (section.empty())
      return fail(from, key, "key outside a section (start with e.g. [db])");
    std::string value;
    if (auto what = ini_value(content.substr(eq + 1), value); !what.empty())
      return fail(from, key, what);
    if (section != "ozonetel.disposition_map")
      key = lower(key);
    if (auto err = apply_setting(cfg, section, key, value, from, state))
      return err;
  }
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
    auto best_key = key_suffix(pbx_keys(), key);
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
  if (section == "webhook") {
    // SWITCHBOARD_WEBHOOK_<NAME>_<KEY>, read as the PBX ones are.
    auto best_key = key_suffix(webhook_keys(), key);
    if (best_key.empty())
      return make_config_error(name
                               + ": unknown webhook setting (expected "
                                 "SWITCHBOARD_WEBHOOK_<NAME>_<KEY>, keys: "
                               + key_list(webhook_key_names()) + ")");
    auto hook_name = key.substr(0, key.size() - best_key.size() - 1);
    if (!valid_pbx_name(hook_name))
      return make_config_error(name + ": bad webhook name");
    auto& hook = webhook_named(cfg, hook_name);
    return apply_key(hook, webhook_keys(), "webhook." + hook.name + ".",
                     best_key, value, from, state, webhook_key_names());
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
  } else if (lower(section) == "webhook"
             || starts_with(lower(section), std::string{webhook_section})) {
    if (lower(section) == "webhook")
      return make_config_error("--" + flag
                               + ": name the webhook: --webhook.<name>." + key);
    section = std::string{webhook_section}
              + section.substr(webhook_section.size());
  } else {
    section = lower(section);
  }
  if (section == "ozonetel.disposition_map")
    return apply_setting(cfg, section, flag.substr(dot + 1), setting.value,
                         from, state);
  return apply_setting(cfg, section, key, setting.value, from, state);
}

} // namespace

namespace config_detail {

webhook_config& webhook_named(app_config& cfg, const std::string& name) {
  for (auto& hook : cfg.webhooks)
    if (names_equal(hook.name, name))
      return hook;
  webhook_config hook;
  hook.name = name;
  cfg.webhooks.push_back(std::move(hook));
  return cfg.webhooks.back();
}

problem ini_value(std::string_view raw, std::string& out) {
  auto text = trim(raw);
  if (text.empty() || text.front() != '"') {
    out = trim_copy(text.substr(0, comment_start(text)));
    return {};
  }
  std::string value;
  size_t i = 1;
  for (; i < text.size() && text[i] != '"'; ++i) {
    if (text[i] == '\\' && i + 1 < text.size()
        && (text[i + 1] == '"' || text[i + 1] == '\\'))
      ++i;
    value.push_back(text[i]);
  }
  if (i >= text.size())
    return "unclosed quote (a quoted value ends with '\"')";
  auto rest = trim(text.substr(i + 1));
  if (!rest.empty() && rest.front() != '#' && rest.front() != ';')
    return "text after the closing quote (only a # or ; comment may follow)";
  out = std::move(value);
  return {};
}

std::string ini_quote(const std::string& value) {
  bool plain = value.empty()
               || (value.front() != '"' && !is_space(value.front())
                   && !is_space(value.back())
                   && comment_start(value) == std::string_view::npos);
  if (plain)
    return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\')
      out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

} // namespace config_detail

// -- public API
// -------------------------------------------------------------------

// -------------------------------------------------------------------

caf::expected<app_config> parse_config_text(const std::string& text,
                                            app_config base) {
  if (auto err = parse_file_into(base, text, "config"))
    return err;
  if (auto err = validate(base))
    return err;
  return base;
}

namespace {

/// What the command line holds besides the settings themselves.
struct arguments {
  std::vector<cli_setting> flags;
  std::vector<std::string> positional;
  std::string config_path;
  bool config_from_cli = false;
  bool help = false;
};

caf::expected<arguments> parse_arguments(int argc, const char* const* argv) {
  arguments args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i)
        args.positional.emplace_back(argv[i]);
      break;
    }
    if (arg == "--help" || arg == "-h") {
      args.help = true;
      return args;
    }
    if (!starts_with(arg, "--")) {
      if (starts_with(arg, "-") && arg.size() > 1)
        return make_config_error(arg + ": unknown option (see --help)");
      args.positional.push_back(arg);
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
      args.config_path = value;
      args.config_from_cli = true;
      continue;
    }
    args.flags.push_back({name, value});
  }
  return args;
}

using environment = std::vector<std::pair<std::string, std::string>>;

environment read_environment(const char* const* envp) {
  environment env;
  for (auto p = envp; p != nullptr && *p != nullptr; ++p) {
    std::string entry = *p;
    auto eq = entry.find('=');
    if (eq == std::string::npos)
      continue;
    env.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

/// The AMI_* seed names configure the PBX named "default". An empty
/// AMI_HOST means "no AMI connection", whatever the other AMI_* say.
caf::error apply_ami_seeds(app_config& cfg, const environment& env) {
  source_state state;
  static const std::vector<std::pair<std::string, std::string>> seeds{
      {"AMI_HOST", "host"},
      {"AMI_PORT", "port"},
      {"AMI_USERNAME", "username"},
      {"AMI_PASSWORD", "secret"}};
  const std::string* host = nullptr;
  for (const auto& [name, value] : env)
    if (name == "AMI_HOST")
      host = &value;
  bool default_pbx = std::any_of(
      cfg.pbxes.begin(), cfg.pbxes.end(),
      [](const pbx_config& pbx) { return pbx.name == "default"; });
  if (host != nullptr && trim(*host).empty()) {
    bool others = std::any_of(env.begin(), env.end(), [](const auto& entry) {
      return starts_with(entry.first, "AMI_") && !entry.second.empty();
    });
    cfg.notes.emplace_back(
        others ? "AMI_HOST is empty: no AMI connection from the AMI_* "
                 "variables (AMI_PORT, AMI_USERNAME, AMI_PASSWORD ignored)"
               : "AMI_HOST is empty: no AMI connection from the AMI_* "
                 "variables");
    return caf::none;
  }
  // Without a host there is nothing to connect to: the other AMI_* only
  // refine a PBX that the file or AMI_HOST defines.
  if (host == nullptr && !default_pbx)
    return caf::none;
  for (const auto& [seed, key] : seeds)
    for (const auto& [name, value] : env)
      if (name == seed && !value.empty()) {
        auto& pbx = pbx_named(cfg, "default");
        if (auto err
            = apply_key(pbx, pbx_keys(), "pbx." + pbx.name + ".", key, value,
                        origin{source_kind::env, seed}, state, pbx_key_names()))
          return err;
      }
  return caf::none;
}

caf::error apply_environment(app_config& cfg, const environment& env) {
  // AMI_* seeds first, so SWITCHBOARD_PBX_DEFAULT_* (more specific) wins.
  if (auto err = apply_ami_seeds(cfg, env))
    return err;
  source_state state;
  for (const auto& [name, value] : env)
    if (starts_with(name, env_prefix))
      if (auto err = apply_env_var(cfg, name, value, state))
        return err;
  return caf::none;
}

} // namespace

caf::expected<app_config> load_config(int argc, const char* const* argv,
                                      const char* const* envp,
                                      std::vector<std::string>* positional) {
  auto args = parse_arguments(argc, argv);
  if (!args)
    return args.error();
  if (args->help) {
    app_config help;
    help.help_requested = true;
    return help;
  }
  auto env = read_environment(envp);
  if (!args->config_from_cli)
    for (const auto& [name, value] : env)
      if (name == "SWITCHBOARD_CONFIG" && !value.empty())
        args->config_path = value;
  // Later sources win: the file, the environment, the command line.
  app_config cfg;
  if (!args->config_path.empty()) {
    bool ok = false;
    auto text = read_whole_file(args->config_path, ok);
    if (!ok)
      return make_config_error("config: cannot read '" + args->config_path
                               + "'");
    if (auto err = parse_file_into(cfg, text, args->config_path))
      return err;
    cfg.config_file = args->config_path;
  }
  if (auto err = apply_environment(cfg, env))
    return err;
  source_state state;
  for (const auto& flag : args->flags)
    if (auto err = apply_cli(cfg, flag, state))
      return err;
  if (auto err = validate(cfg))
    return err;
  if (positional != nullptr)
    *positional = std::move(args->positional);
  return cfg;
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
