#pragma once

// http_server: switchboard's HTTP interface, served by the Beast engine
// (http/engine.hpp) on a few I/O threads, with handlers that wait for an
// actor or the database on a pool of http.threads, bridged into the actors
// with request / response and the configured timeout (caf::scoped_actor).
//
// Built-in routes (docs/openapi.yaml describes each): the CRM routes
// (http/crm_routes.hpp) and the operations routes (http/ops_routes.hpp).
//
// Other areas mount their routes with add_routes() before start(), through
// the same router, so auth, media types, limits, JSON errors, request
// logging and metrics are identical everywhere:
//
//   admin.add_routes([&](sb::http::router& r, const sb::http_context& ctx) {
//     r.post("/api/ozonetel/dial", sb::http::scope::write,
//            [&](const sb::http::request& req, sb::http::response& res) {
//              rapidjson::Document body;
//              if (!sb::http::parse_json_object(req, res, body))
//                return;
//              auto reply = sb::http_ask<std::string>(ctx, ucid_calls,
//                                                     sb::dial_atom_v, ...);
//              ...
//            });
//   });
//
// Every route must also appear in docs/openapi.yaml (a test checks).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/timespan.hpp>

#include "adapters/cdr/status_board.hpp"
#include "config/config.hpp"
#include "core/handle_slot.hpp"
#include "http/auth.hpp"
#include "core/event_signal.hpp"
#include "http/engine.hpp"
#include "http/event_stream.hpp"
#include "http/errors.hpp"
#include "http/json.hpp"
#include "http/originate_routes.hpp"
#include "http/read_pool.hpp"
#include "http/router.hpp"
#include "messages/call_tracker_actor.hpp"
#include "messages/crm_event.hpp"
#include "messages/comms_log_writer_actor.hpp"
#include "messages/connection.hpp"
#include "messages/customer_matcher_actor.hpp"
#include "messages/ozonetel_agents.hpp"
#include "messages/webhooks.hpp"

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
  /// The CloudAgent side for /readyz (session, token, subscription); empty =
  /// not shown. Called on an HTTP worker thread.
  std::function<caf::optional<ozonetel_health>(caf::timespan timeout)>
      cloudagent_health;
  /// Each webhook endpoint's delivery state for /readyz; empty = no
  /// webhooks. Called on an HTTP worker thread.
  std::function<std::vector<webhook_status>()> webhooks;
  /// Agent tokens (hashes) the router accepts on agent routes; may be null.
  agent_tokens_ptr agent_tokens;
  /// The PBXes' CDR databases (empty function = none configured).
  std::function<std::vector<cdr::status>()> cdr_status;
  /// Read connections to the database (0 = min(http.threads, 4)).
  size_t read_connections = 0;
  /// Connection and request limits; unset = limits_of(config).
  std::optional<http::server_limits> limits;
  /// Where customer changes and re-matched calls are reported (empty = a
  /// debug log line each; messages/crm_event.hpp).
  crm_event_sink events;
  /// Click-to-call (POST /api/calls/originate): hands an Originate to the
  /// AMI side; empty = no PBX (503).
  originate_function originate;
  /// Rung by the event log after each commit (GET /api/events wakes at
  /// once); none = the stream polls (events.poll_seconds).
  shared_event_signal events_signal;
};

/// The engine's limits for `cfg`: body limit http.max_body_bytes, handler
/// threads http.threads, I/O threads min(max(2, cores), 4), the rest the
/// engine's defaults.
http::server_limits limits_of(const app_config& cfg);

/// What a mounted route may use.
struct http_context {
  caf::actor_system& system;
  const app_config& config;
  /// How long a request waits for an actor (http.request_timeout_seconds).
  caf::timespan timeout;
  /// Database connections for reads.
  http_read_pool& reads;
  /// Never empty: the server installs a logging sink when none was given.
  crm_event_sink events;
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

/// As above, asking whatever actor the slot holds at each request.
template <class Handle>
live_call_source live_calls_of(caf::actor_system& sys, std::string name,
                               shared_handle<Handle> slot) {
  return {std::move(name), [&sys, slot](caf::timespan timeout) {
            return http_ask<std::vector<live_call>>(sys, slot->get(), timeout,
                                                    active_atom_v);
          }};
}

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

  /// Binds http.listen (`host:port`; port 0 picks a free port) exclusively
  /// and serves. Returns the bound port; a port in use is an error
  /// "address already in use: host:port".
  caf::expected<uint16_t> start();

  /// Stops accepting, finishes requests in flight, joins the threads.
  /// Idempotent.
  void stop();

  uint16_t port() const noexcept {
    return port_;
  }

  /// A restarted pipeline actor: requests from now on go to it.
  void rewire(comms_log_writer_actor writer);
  void rewire(customer_matcher_actor matcher);
  void rewire(call_tracker_actor tracker);

  /// Replaces the API tokens (SIGHUP); requests already past their check
  /// finish as they began.
  void set_tokens(const api_tokens& tokens);

  /// Replaces the CORS origins (http.cors_origins, SIGHUP).
  void set_cors_origins(const std::string& origins);

  /// Every served route (built-in and mounted).
  std::vector<http::route> routes() const;

  const http_context& context() const noexcept {
    return ctx_;
  }

  /// Open connections and what the caps did (tests, benchmark).
  http::engine_stats stats() const;

  /// The event stream's hub (started now if no one subscribed yet).
  http::event_hub& event_hub();

private:
  http_deps deps_;
  /// The pipeline actors the routes ask, replaceable by rewire().
  shared_handle<comms_log_writer_actor> writer_;
  shared_handle<customer_matcher_actor> matcher_;
  shared_handle<call_tracker_actor> tracker_;
  std::unique_ptr<http::router> router_;
  std::unique_ptr<http_read_pool> reads_;
  http_context ctx_;
  /// GET /api/events' tail, started by the first subscriber.
  std::mutex hub_mutex_;
  std::unique_ptr<http::event_hub> hub_;
  std::unique_ptr<http::engine> engine_;
  uint16_t port_ = 0;
  bool stopped_ = false;
};

} // namespace sb
