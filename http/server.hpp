#pragma once

// http_server: switchboard's HTTP interface (SPEC section 4), served by
// cpp-httplib on its own worker threads and bridged into the actors with
// request / response and the configured timeout (caf::scoped_actor).
// Reads (GETs) go to the database through a small pool of their own
// connections, so they never queue behind the writer; writes go through the
// comms_log_writer actor, which owns idempotency and outage handling.
//
// Built-in routes (docs/openapi.yaml describes each):
//   POST /api/crm/calls/log         write  manual call log -> 201 entry
//   GET  /api/crm/comms             read   comms log, newest first, paged
//   POST /api/crm/customers         write  add a customer -> 201 customer
//   GET  /api/crm/customers         read   ?phone= in any format
//   GET  /api/crm/customers/{id}    read
//   GET  /api/calls/active          read   every live-call source
//   GET  /healthz, GET /readyz      none
//
// Other areas mount their routes with add_routes() before start(), through
// the same router, so auth, media types, body limit, JSON errors, request
// logging and metrics are identical everywhere:
//
//   admin.add_routes([&](sb::http::router& r, const sb::http_context& ctx) {
//     r.post("/api/ozonetel/dial", sb::http::scope::write,
//            [&](const httplib::Request& req, httplib::Response& res) {
//              rapidjson::Document body;
//              if (!sb::http::parse_json_object(req, res, body))
//                return;
//              auto reply = sb::http_ask<std::string>(ctx, ucid_calls,
//                                                     sb::dial_atom_v, ...);
//              ...
//            });
//     r.get("/metrics", sb::http::scope::none, ...);
//   });
//
// Every route must also appear in docs/openapi.yaml (a test checks).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/timespan.hpp>

#include "config/config.hpp"
#include "http/auth.hpp"
#include "http/json.hpp"
#include "http/read_pool.hpp"
#include "http/router.hpp"
#include "messages/call_tracker_actor.hpp"
#include "messages/comms_log_writer_actor.hpp"
#include "messages/connection.hpp"
#include "messages/customer_matcher_actor.hpp"

namespace sb {

/// A source of calls in progress for GET /api/calls/active.
struct live_call_source {
  /// Names the source in errors ("ami", "ozonetel").
  std::string name;
  /// Called on an HTTP worker thread; must answer within `timeout`.
  std::function<caf::expected<std::vector<live_call>>(caf::timespan timeout)>
      fetch;
};

/// What http_server needs from the rest of the server. Handles may be left
/// invalid in setups without that actor; the routes needing it then answer
/// 503.
struct http_deps {
  explicit http_deps(caf::actor_system& sys, app_config cfg = {})
      : system(sys), config(std::move(cfg)) {}

  caf::actor_system& system;
  /// http.* (listen, tokens, limits, timeout, threads), db.url (reads),
  /// phone.default_region (normalizing numbers).
  app_config config;
  comms_log_writer_actor writer;
  customer_matcher_actor matcher;
  /// The AMI call tracker; when valid it is the live-call source "ami".
  call_tracker_actor tracker;
  /// More live-call sources (Ozonetel's calls).
  std::vector<live_call_source> live_calls;
  /// The state of each PBX (and other upstream) connection, for /readyz.
  /// Called on an HTTP worker thread; must be quick and thread-safe. Empty
  /// = no connections to report.
  std::function<std::vector<connection_status>()> connections;
  /// Read connections to the database (0 = min(http.threads, 4)).
  size_t read_connections = 0;
};

/// What a mounted route may use.
struct http_context {
  caf::actor_system& system;
  const app_config& config;
  /// How long a request waits for an actor (http.request_timeout_seconds).
  caf::timespan timeout;
  /// Database connections for reads.
  http_read_pool& reads;
};

/// Sends `xs...` to `handle` and waits up to `timeout` for one answer of type
/// R. A timeout is caf::sec::request_timeout; an actor's error is passed on.
template <class R, class Handle, class... Ts>
caf::expected<R> http_ask(caf::actor_system& sys, const Handle& handle,
                          caf::timespan timeout, Ts&&... xs) {
  if (!handle)
    return caf::make_error(caf::sec::request_receiver_down,
                           std::string{"actor not running"});
  caf::scoped_actor self{sys};
  caf::expected<R> result{caf::make_error(caf::sec::request_timeout)};
  self->request(handle, timeout, std::forward<Ts>(xs)...)
      .receive([&](R& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

template <class R, class Handle, class... Ts>
caf::expected<R> http_ask(const http_context& ctx, const Handle& handle,
                          Ts&&... xs) {
  return http_ask<R>(ctx.system, handle, ctx.timeout, std::forward<Ts>(xs)...);
}

/// A live-call source asking any actor that
/// `replies_to<active_atom>::with<std::vector<live_call>>`.
template <class Handle>
live_call_source live_calls_of(caf::actor_system& sys, std::string name,
                               Handle handle) {
  return {std::move(name), [&sys, handle](caf::timespan timeout) {
            return http_ask<std::vector<live_call>>(sys, handle, timeout,
                                                    active_atom_v);
          }};
}

/// Answers a failed actor request or database call: 503 `timeout` when the
/// answer did not come in time, 503 `database_unavailable` for an outage
/// (store::is_unavailable), 422 `rejected` when the store refused the data
/// (caf::sec::invalid_argument), else 503 `unavailable` naming `what`
/// ("database", "comms log writer", ...).
void send_failure(httplib::Response& res, const std::string& what,
                  const caf::error& err);

class http_server {
public:
  using mount_function
      = std::function<void(http::router&, const http_context&)>;

  explicit http_server(http_deps deps);
  /// Stops the listener.
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Mounts more routes; call before start().
  void add_routes(const mount_function& mount);

  /// Binds http.listen (`host:port`; port 0 picks a free port) and serves
  /// on http.threads worker threads. Returns the bound port.
  caf::expected<uint16_t> start();

  /// Stops accepting, finishes requests in flight, joins the threads.
  /// Idempotent.
  void stop();

  uint16_t port() const noexcept {
    return port_;
  }

  /// Every served route (built-in and mounted).
  std::vector<http::route> routes() const;

  const http_context& context() const noexcept {
    return ctx_;
  }

private:
  struct impl;
  http_deps deps_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<http::router> router_;
  std::unique_ptr<http_read_pool> reads_;
  http_context ctx_;
  std::unique_ptr<impl> impl_;
  std::thread listener_;
  uint16_t port_ = 0;
};

} // namespace sb
