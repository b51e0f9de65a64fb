#pragma once

// Route table that gives every endpoint the same behaviour:
// - bearer auth with scopes (401 without / with an unknown token, 403 for a
//   read token on a write route, 503 when no token is configured);
// - request bodies only with the declared media type (415); the size limit
//   is the engine's, enforced while reading;
// - JSON errors `{"error", "message"}` for everything, including unknown
//   routes (404), a known path with the wrong method (405 + Allow) and
//   handler exceptions (500);
// - one log line per request: method, path (never the query string, which may
//   carry a callback token), status, milliseconds -- never a header. Server
//   errors and slow requests at info, everything else at debug;
// - a hook per finished request (metrics by route template and status).
//
// Every route is declared with its OpenAPI path template (`/things/{id}`), so
// the served routes can be checked against docs/openapi.yaml.
//
// Routes are added before the server listens; the table is read-only after,
// so the engine's threads read it without locks.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "http/auth.hpp"
#include "http/cors.hpp"
#include "http/message.hpp"

namespace sb::http {

struct route {
  /// "GET", "POST", ...
  std::string method;
  /// OpenAPI path template: `/api/crm/customers/{id}`. Each `{name}` matches
  /// one non-empty path segment, available to the handler as
  /// `req.path_param(1..n)` in order.
  std::string path;
  scope needed = scope::read;
  /// Media types accepted for the body (e.g. "application/json"); empty = the
  /// route takes no body and ignores Content-Type.
  std::vector<std::string> accepts;
  /// A second way in when the bearer check fails, e.g. Ozonetel's callback
  /// carrying `?token=` because CloudAgent cannot add headers. Must compare
  /// secrets with constant_time_equals.
  std::function<bool(const request&)> alternative_auth;
  /// The handler never blocks (no database, no actor): it runs on the I/O
  /// thread instead of queueing behind slow handlers (health, metrics).
  bool quick = false;
  /// An agent's own route (its Ozonetel calls and state): an agent token is
  /// accepted too, and the handler holds it to its agent. Everywhere else an
  /// agent token is refused with 403.
  bool agent_route = false;
};

/// What the per-request hook sees (when the response is ready to go out).
struct request_record {
  /// method_label() of the method sent.
  std::string_view method;
  /// Route template, or "unmatched" when no route served the request.
  std::string_view route;
  /// Path without the query string.
  std::string_view path;
  int status = 0;
  double seconds = 0;
};

using handler = std::function<void(const request&, response&)>;

/// `{id}` of the route, 1-based in template order; empty when absent.
std::string path_param(const request& req, size_t index);

/// The method as a metrics label and log field: the methods HTTP defines as
/// sent, anything else "other" (invented methods must not create series).
std::string_view method_label(std::string_view method) noexcept;

/// The route template a request was served by when no route matched.
inline constexpr std::string_view unmatched_route = "unmatched";

/// The route label of a CORS preflight answered by the router.
inline constexpr std::string_view preflight_route = "cors_preflight";

class router {
public:
  explicit router(authenticator auth);

  router(const router&) = delete;
  router& operator=(const router&) = delete;

  /// Mounts `h` for `r`. Auth and media type are checked before `h` runs;
  /// `h` sets status and body (send_json / send_error).
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

  /// Agent tokens to accept on agent routes (before listening).
  void set_agent_tokens(agent_tokens_ptr tokens) {
    auth_.set_agent_tokens(std::move(tokens));
  }

  /// Replaces the API tokens for every request checked from now on.
  void set_tokens(std::string token, std::string read_token) {
    auth_.set(std::move(token), std::move(read_token));
  }

  /// Replaces the origins allowed cross-origin access (http.cors_origins;
  /// empty = none), for every request from now on.
  void set_cors_origins(std::vector<std::string> origins) {
    cors_.set_origins(std::move(origins));
  }

  /// Adds a hook called once per finished request, on a server thread (hooks
  /// run in the order added; add them before listening).
  void on_request_done(std::function<void(const request_record&)> hook);

  /// Turns a route template into the regex a path is matched against.
  static std::string pattern_of(const std::string& path_template);

  // -- what the engine calls ------------------------------------------------

  /// The index of the route serving `req` (method and path), or npos.
  size_t find(const request& req) const;

  /// True when route `index` runs on the I/O thread (route::quick).
  bool quick(size_t index) const noexcept;

  /// Serves `req` with route `index` (npos: 404 or 405). Fills the path
  /// parameters. Returns the route template for logs and metrics.
  std::string_view serve(size_t index, request& req, response& res) const;

  /// Logs the request and runs the hooks.
  void finished(const request& req, const response& res, std::string_view route,
                double seconds) const;

  static constexpr size_t npos = static_cast<size_t>(-1);

private:
  struct entry {
    route spec;
    std::regex pattern;
    handler run;
  };

  void not_routed(const request& req, response& res) const;
  bool admitted(const entry& e, request& req, response& res) const;
  std::string_view serve_route(size_t index, request& req,
                               response& res) const;
  /// The methods served at `req`'s path ("GET, POST"), empty for none.
  std::string methods_at(const request& req) const;

  authenticator auth_;
  cors_policy cors_;
  std::vector<std::shared_ptr<const entry>> entries_;
  std::vector<std::function<void(const request_record&)>> done_hooks_;
};

} // namespace sb::http
