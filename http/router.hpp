#pragma once

// Route table over httplib::Server that gives every endpoint the same
// behaviour (SPEC section 4):
// - bearer auth with scopes (401 without / with an unknown token, 403 for a
//   read token on a write route, 503 when no token is configured);
// - request bodies only with the declared media type (415), at most
//   `max_body_bytes` (413);
// - JSON errors `{"error", "message"}` for everything, including unknown
//   routes (404), a known path with the wrong method (405 + Allow), bodies
//   that are too large and handler exceptions (500);
// - one log line per request: method, path (never the query string, which may
//   carry a callback token), status, milliseconds — never a header;
// - a hook per finished request (metrics by route template and status).
//
// Every route is declared with its OpenAPI path template (`/things/{id}`), so
// the served routes can be checked against docs/openapi.yaml.
//
// Routes are added before the server listens; the table is read-only after.

#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

#include "http/auth.hpp"

namespace sb::http {

struct route {
  /// "GET", "POST", ...
  std::string method;
  /// OpenAPI path template: `/api/crm/customers/{id}`. Each `{name}` matches
  /// one non-empty path segment, available to the handler as
  /// `path_param(req, 1..n)` in order.
  std::string path;
  scope needed = scope::read;
  /// Media types accepted for the body (e.g. "application/json"); empty = the
  /// route takes no body and ignores Content-Type.
  std::vector<std::string> accepts;
  /// A second way in when the bearer check fails, e.g. Ozonetel's callback
  /// carrying `?token=` because CloudAgent cannot add headers. Must compare
  /// secrets with constant_time_equals.
  std::function<bool(const httplib::Request&)> alternative_auth;
};

/// What the per-request hook sees (after the response is written).
struct request_record {
  std::string_view method;
  /// Route template, or "unmatched" when no route served the request.
  std::string_view route;
  /// Path without the query string.
  std::string_view path;
  int status = 0;
  double seconds = 0;
};

using handler
    = std::function<void(const httplib::Request&, httplib::Response&)>;

/// `{id}` of the route, 1-based in template order; empty when absent.
std::string path_param(const httplib::Request& req, size_t index);

class router {
public:
  /// Installs the error, exception and logging hooks and the body limit on
  /// `server`, which must outlive nothing the router owns: the router must
  /// outlive the server's listening.
  router(httplib::Server& server, authenticator auth, size_t max_body_bytes);

  router(const router&) = delete;
  router& operator=(const router&) = delete;

  /// Mounts `h` for `r`. Auth, media type and body size are checked before
  /// `h` runs; `h` sets status and body (send_json / send_error).
  void add(route r, handler h);

  /// GET route without a body.
  void get(std::string path, scope needed, handler h);

  /// POST route taking `application/json`.
  void post(std::string path, scope needed, handler h);

  /// Every mounted route, in mounting order.
  std::vector<route> routes() const;

  const authenticator& auth() const noexcept {
    return auth_;
  }

  size_t max_body_bytes() const noexcept {
    return max_body_bytes_;
  }

  /// The underlying server, for settings the router does not cover. Mount
  /// routes with add() instead of server().Get(...): those would bypass auth
  /// and be missing from routes().
  httplib::Server& server() noexcept {
    return server_;
  }

  /// Adds a hook called once per finished request, on the HTTP worker
  /// thread (hooks run in the order added; add them before listening).
  void on_request_done(std::function<void(const request_record&)> hook);

  /// Turns a route template into the regex httplib matches against.
  static std::string pattern_of(const std::string& path_template);

private:
  struct entry {
    route spec;
    std::regex pattern;
  };

  void handle_error(const httplib::Request& req, httplib::Response& res);
  void log_request(const httplib::Request& req, const httplib::Response& res);

  httplib::Server& server_;
  authenticator auth_;
  size_t max_body_bytes_;
  std::vector<std::shared_ptr<const entry>> entries_;
  std::vector<std::function<void(const request_record&)>> done_hooks_;
};

} // namespace sb::http
