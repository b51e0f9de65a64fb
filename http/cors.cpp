#include "http/cors.hpp"

#include <algorithm>

#include "core/strings.hpp"

namespace sb::http {

namespace {

/// The request headers the API reads: a browser sends only those listed.
constexpr const char* allowed_headers
    = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID";
/// The response headers a page may read besides the simple ones.
constexpr const char* exposed_headers = "Location, Retry-After, Allow";

} // namespace

void cors_policy::set_origins(std::vector<std::string> origins) {
  auto next = std::make_shared<const std::vector<std::string>>(
      std::move(origins));
  std::lock_guard<std::mutex> guard{mutex_};
  origins_ = std::move(next);
}

bool cors_policy::allows(std::string_view origin) const {
  std::shared_ptr<const std::vector<std::string>> current;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    current = origins_;
  }
  if (current->empty() || origin.empty())
    return false;
  auto wanted = lower(std::string{origin});
  return std::find(current->begin(), current->end(), wanted)
         != current->end();
}

void cors_policy::preflight(response& res, const std::string& origin,
                            const std::string& methods) {
  res.status = 204;
  res.body.clear();
  res.set_header("Access-Control-Allow-Origin", origin);
  res.set_header("Access-Control-Allow-Methods", methods);
  res.set_header("Access-Control-Allow-Headers", allowed_headers);
  res.set_header("Access-Control-Max-Age", "600");
  res.set_header("Vary", "Origin");
}

void cors_policy::decorate(response& res, const std::string& origin) {
  res.set_header("Access-Control-Allow-Origin", origin);
  res.set_header("Access-Control-Expose-Headers", exposed_headers);
  res.set_header("Vary", "Origin");
}

} // namespace sb::http
