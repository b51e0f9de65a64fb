#include "core/db_url.hpp"

#include <utility>

#include "core/strings.hpp"

namespace sb {

namespace {

constexpr size_t npos = std::string::npos;

/// The password inside `scheme://user:password@host...`, or {npos, 0}.
std::pair<size_t, size_t> userinfo_password_span(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == npos)
    return {npos, 0};
  auto start = scheme + 3;
  auto at = url.find('@', start);
  auto slash = url.find('/', start);
  if (at == npos || (slash != npos && slash < at))
    return {npos, 0};
  auto colon = url.find(':', start);
  if (colon == npos || colon > at)
    return {npos, 0};
  return {colon + 1, at - colon - 1};
}

/// The value of a `password=` query parameter, or {npos, 0}.
std::pair<size_t, size_t> query_password_span(const std::string& url) {
  auto pos = url.find('?');
  while (pos != npos) {
    auto key_start = pos + 1;
    if (istarts_with(std::string_view{url}.substr(key_start), "password=")) {
      auto value_start = key_start + 9;
      auto end = url.find('&', value_start);
      if (end == npos)
        end = url.size();
      return {value_start, end - value_start};
    }
    pos = url.find('&', key_start);
  }
  return {npos, 0};
}

} // namespace

bool is_postgres_url(const std::string& url) {
  return istarts_with(url, "postgresql://") || istarts_with(url, "postgres://");
}

std::string url_password(const std::string& url) {
  auto [pos, len] = userinfo_password_span(url);
  if (pos != npos)
    return url.substr(pos, len);
  auto [qpos, qlen] = query_password_span(url);
  if (qpos != npos)
    return url.substr(qpos, qlen);
  return {};
}

std::string redact_url(std::string url) {
  // Query first: replacing it does not move the user-info span.
  auto [qpos, qlen] = query_password_span(url);
  if (qpos != npos && qlen > 0)
    url.replace(qpos, qlen, "***");
  auto [pos, len] = userinfo_password_span(url);
  if (pos != npos && len > 0)
    url.replace(pos, len, "***");
  return url;
}

} // namespace sb
