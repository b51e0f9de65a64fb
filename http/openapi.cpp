#include "http/openapi.hpp"

#include <cctype>

namespace sb::http {

namespace {

size_t indent_of(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ')
    ++n;
  return n;
}

std::string_view strip_key(std::string_view s) {
  // `'/path':` or `/path:` (optionally followed by a comment).
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos)
    return {};
  s = s.substr(0, colon);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"')
      && s.back() == s.front())
    s = s.substr(1, s.size() - 2);
  return s;
}

bool is_method(std::string_view key) {
  for (auto m :
       {"get", "post", "put", "patch", "delete", "head", "options", "trace"})
    if (key == m)
      return true;
  return false;
}

} // namespace

operation_set openapi_operations(std::string_view yaml) {
  operation_set result;
  bool in_paths = false;
  std::string current;
  size_t pos = 0;
  while (pos <= yaml.size()) {
    auto end = yaml.find('\n', pos);
    if (end == std::string_view::npos)
      end = yaml.size();
    auto line = yaml.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    auto indent = indent_of(line);
    auto body = line.substr(indent);
    if (body.empty() || body.front() == '#')
      continue;
    if (indent == 0) {
      in_paths = body.rfind("paths:", 0) == 0;
      current.clear();
      continue;
    }
    if (!in_paths)
      continue;
    if (indent == 2) {
      auto key = strip_key(body);
      current = !key.empty() && key.front() == '/' ? std::string{key}
                                                   : std::string{};
    } else if (indent == 4 && !current.empty()) {
      auto key = strip_key(body);
      if (is_method(key)) {
        std::string method{key};
        for (auto& c : method)
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        result.emplace(std::move(method), current);
      }
    }
    if (end == yaml.size())
      break;
  }
  return result;
}

std::vector<std::string> undocumented_routes(const std::vector<route>& served,
                                             std::string_view yaml) {
  auto documented = openapi_operations(yaml);
  std::vector<std::string> missing;
  for (auto& r : served)
    if (documented.count({r.method, r.path}) == 0)
      missing.push_back(r.method + " " + r.path);
  return missing;
}

} // namespace sb::http
