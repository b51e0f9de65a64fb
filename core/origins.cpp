#include "core/origins.hpp"

#include <algorithm>

#include "core/strings.hpp"

namespace sb {

namespace {

bool valid_origin(std::string_view o) {
  std::string_view rest;
  if (starts_with(o, "http://"))
    rest = o.substr(7);
  else if (starts_with(o, "https://"))
    rest = o.substr(8);
  else
    return false;
  if (rest.empty())
    return false;
  return std::all_of(rest.begin(), rest.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'
           || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

} // namespace

std::vector<std::string> parse_origins(std::string_view list,
                                       std::string* problem) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    auto comma = list.find(',', pos);
    if (comma == std::string_view::npos)
      comma = list.size();
    auto item = lower(std::string{trim(list.substr(pos, comma - pos))});
    pos = comma + 1;
    if (item.empty())
      continue;
    if (!valid_origin(item)) {
      if (problem != nullptr && problem->empty())
        *problem = "'" + item.substr(0, 100)
                   + "' is not an origin: give scheme://host[:port] "
                     "(http or https, no path, no trailing slash, no '*')";
      continue;
    }
    if (std::find(out.begin(), out.end(), item) == out.end())
      out.push_back(std::move(item));
  }
  return out;
}

} // namespace sb
