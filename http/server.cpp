#include "http/server.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>

#include "core/log.hpp"
#include "http/console.hpp"
#include "http/crm_routes.hpp"
#include "http/event_routes.hpp"
#include "http/ops_routes.hpp"

namespace sb {

namespace {

/// Parses "host:port" / "[v6]:port" / ":port".
bool split_listen(const std::string& listen, std::string& host, int& port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return false;
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty())
    host = "0.0.0.0";
  auto digits = listen.substr(colon + 1);
  auto [ptr, ec]
      = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  return ec == std::errc{} && ptr == digits.data() + digits.size() && port >= 0
         && port <= 65535;
}

caf::timespan timeout_of(const app_config& cfg) {
  auto seconds = cfg.http.request_timeout_seconds > 0
                     ? cfg.http.request_timeout_seconds
                     : 5.0;
  return std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>(seconds));
}

size_t read_connections_of(const http_deps& deps) {
  if (deps.read_connections > 0)
    return deps.read_connections;
  return std::max<size_t>(1, std::min<size_t>(deps.config.http.threads, 4));
}

} // namespace

http::server_limits limits_of(const app_config& cfg) {
  http::server_limits l;
  l.max_body_bytes = cfg.http.max_body_bytes;
  l.handler_threads = cfg.http.threads > 0 ? cfg.http.threads : 8u;
  auto cores = std::thread::hardware_concurrency();
  l.io_threads = std::clamp(cores, 2u, 4u);
  return l;
}

namespace {

crm_event_sink events_or_log(crm_event_sink sink) {
  if (sink)
    return sink;
  return [](crm_event e) {
    log::debug("http_server", "event",
               {{"type", e.type}, {"data", e.payload_json}});
  };
}

} // namespace

http_server::http_server(http_deps deps)
    : deps_(std::move(deps)),
      writer_(make_shared_handle(deps_.writer)),
      matcher_(make_shared_handle(deps_.matcher)),
      tracker_(make_shared_handle(deps_.tracker)),
      router_(std::make_unique<http::router>(http::authenticator{
          deps_.config.http.token, deps_.config.http.read_token})),
      reads_(std::make_unique<http_read_pool>(deps_.config.db.url,
                                              read_connections_of(deps_))),
      ctx_{deps_.system, deps_.config, timeout_of(deps_.config), *reads_,
           events_or_log(deps_.events)} {
  router_->set_cors_origins(parse_origins(deps_.config.http.cors_origins));
  mount_crm_routes(*router_, ctx_, writer_, matcher_);
  mount_originate_routes(*router_, ctx_, matcher_, deps_.originate);
  router_->set_agent_tokens(deps_.agent_tokens);
  mount_ops_routes(*router_, ctx_,
                   ops_sources{tracker_, deps_.live_calls, deps_.connections,
                               deps_.cloudagent_health, deps_.webhooks,
                               matcher_, deps_.cdr_status});
  http::mount_console(*router_);
  mount_event_routes(
      *router_, ctx_, [this]() -> http::event_hub& { return event_hub(); },
      deps_.config.events.subscriber_buffer_bytes);
  engine_ = std::make_unique<http::engine>(
      *router_, deps_.limits ? *deps_.limits : limits_of(deps_.config));
}

http_server::~http_server() {
  stop();
}

void http_server::add_routes(const mount_function& mount) {
  mount(*router_, ctx_);
}

caf::expected<uint16_t> http_server::start() {
  if (port_ != 0)
    return port_;
  std::string host;
  int port = 0;
  if (!split_listen(deps_.config.http.listen, host, port))
    return caf::make_error(caf::sec::invalid_argument,
                           "http.listen must be host:port, got '"
                               + deps_.config.http.listen + "'");
  auto bound = engine_->start(host, static_cast<uint16_t>(port));
  if (!bound)
    return bound.error();
  port_ = *bound;
  log::info("http_server", "listening",
            {{"address", host}, {"port", std::to_string(port_)}});
  if (!router_->auth().enabled())
    log::warning("http_server",
                 "no http.token configured: only /healthz, /readyz and "
                 "/metrics answer");
  return port_;
}

http::event_hub& http_server::event_hub() {
  std::lock_guard<std::mutex> guard{hub_mutex_};
  if (!hub_) {
    http::event_hub_options opts;
    opts.db_url = deps_.config.db.url;
    auto ms = [](double seconds) {
      return std::chrono::milliseconds{
          std::max<int64_t>(1, static_cast<int64_t>(seconds * 1000))};
    };
    opts.heartbeat = ms(deps_.config.events.heartbeat_seconds);
    opts.poll = ms(deps_.config.events.poll_seconds);
    opts.stall = ms(deps_.config.events.stall_seconds);
    opts.buffer_bytes = deps_.config.events.subscriber_buffer_bytes;
    hub_ = std::make_unique<http::event_hub>(opts, deps_.events_signal);
  }
  return *hub_;
}

void http_server::stop() {
  if (port_ == 0 || stopped_)
    return;
  stopped_ = true;
  engine_->stop();
  {
    std::lock_guard<std::mutex> guard{hub_mutex_};
    hub_.reset();
  }
  log::info("http_server", "stopped");
}

void http_server::rewire(comms_log_writer_actor writer) {
  writer_->set(std::move(writer));
}

void http_server::rewire(customer_matcher_actor matcher) {
  matcher_->set(std::move(matcher));
}

void http_server::rewire(call_tracker_actor tracker) {
  tracker_->set(std::move(tracker));
}

void http_server::set_cors_origins(const std::string& origins) {
  router_->set_cors_origins(parse_origins(origins));
}

void http_server::set_tokens(const api_tokens& tokens) {
  router_->set_tokens(tokens.token, tokens.read_token);
}

std::vector<http::route> http_server::routes() const {
  return router_->routes();
}

http::engine_stats http_server::stats() const {
  return engine_->stats();
}

} // namespace sb
