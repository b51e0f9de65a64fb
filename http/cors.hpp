#pragma once

// Cross-origin access for browser pages on other origins (http.cors_origins).
// Only exact origins are allowed (scheme://host[:port], no wildcard): an API
// that takes bearer tokens is not opened to every page on the web.
//
// For an allowed Origin the router answers a preflight (OPTIONS with
// Access-Control-Request-Method) itself, 204 without authentication, listing
// the path's methods and the request headers the API reads; every other
// answer to that origin carries Access-Control-Allow-Origin. Requests without
// an Origin, or from an origin not listed, are served exactly as before.
//
// The origins are swapped whole (SIGHUP) while requests are served.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/origins.hpp"
#include "http/message.hpp"

namespace sb::http {

class cors_policy {
public:
  void set_origins(std::vector<std::string> origins);

  /// True when `origin` (the request's Origin header) is listed.
  bool allows(std::string_view origin) const;

  /// Fills a preflight answer for `origin`, allowing `methods`
  /// ("GET, POST").
  static void preflight(response& res, const std::string& origin,
                        const std::string& methods);

  /// Adds the headers an allowed origin's actual request gets.
  static void decorate(response& res, const std::string& origin);

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const std::vector<std::string>> origins_
      = std::make_shared<const std::vector<std::string>>();
};

} // namespace sb::http
