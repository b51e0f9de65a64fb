#include "app/server.hpp"
#include "core/db_url.hpp"

#include <chrono>
#include <thread>

#include <caf/all.hpp>

#include "actors/ami_supervisor.hpp"
#include "actors/call_tracker.hpp"
#include "actors/comms_log_writer.hpp"
#include "actors/customer_matcher.hpp"
#include "actors/ozonetel_session.hpp"
#include "actors/ucid_calls.hpp"
#include "adapters/metrics/registry.hpp"
#include "adapters/store/database.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "http/ozonetel_routes.hpp"
#include "http/server.hpp"

namespace sb {

namespace {

constexpr const char* log_name = "server";

/// GET /metrics: the registry in the Prometheus text format, no auth (SPEC
/// section 4) — nothing in it is secret.
void mount_metrics(http::router& routes, const http_context&) {
  http::route r;
  r.method = "GET";
  r.path = "/metrics";
  r.needed = http::scope::none;
  // Rendering the registry never waits: answered on the I/O thread.
  r.quick = true;
  routes.add(r, [](const http::request&, http::response& res) {
    res.status = 200;
    res.set_content(metrics::global().render(),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
}

} // namespace

void add_switchboard_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::switchboard>();
  add_error_category(cfg);
}

server::server(caf::actor_system& sys, app_config cfg, server_options opts)
    : sys_(sys), cfg_(std::move(cfg)), opts_(opts) {}

server::~server() {
  stop(std::chrono::seconds{2});
}

caf::expected<void> server::start() {
  metrics::register_process_metrics(metrics::global());
  // Migrate once before writer and matcher each open the database: two
  // first-time migrations racing for SQLite's write lock fail one of them.
  // A database that is down is not fatal: the writer holds records and
  // retries, the matcher holds calls until it can load the customers.
  if (auto db = store::database::open(cfg_.db.url); !db)
    log::warning(log_name, "database not reachable at start-up; retrying",
                 {{"url", sb::redact_url(cfg_.db.url)},
                  {"error", caf::to_string(db.error())}});
  // Writer and matcher make blocking SQL calls (commits, index loads): each
  // gets a thread of its own instead of stalling a scheduler worker that the
  // tracker and parsers need.
  writer_ = sys_.spawn<caf::detached>(comms_log_writer, cfg_.db);
  matcher_ = sys_.spawn<caf::detached>(customer_matcher, cfg_.phone,
                                       cfg_.db.url, writer_);
  tracker_ = sys_.spawn(call_tracker, cfg_.pbxes, cfg_.tracker, matcher_);
  backoff_policy backoff;
  backoff.initial = opts_.reconnect_initial;
  backoff.max = opts_.reconnect_max;
  supervisor_ = sys_.spawn(sb::ami_supervisor, cfg_.pbxes, tracker_, backoff);
  if (cfg_.ozonetel.enabled()) {
    auto session_cfg = cfg_.ozonetel;
    ucid_calls_ = sys_.spawn(
        ucid_calls, cfg_.ozonetel, matcher_,
        [session_cfg](caf::actor_system& sys) {
          return sys.spawn(ozonetel_session, session_cfg,
                           ozonetel_session_options{});
        },
        ucid_calls_options{});
  }
  for (auto& pbx : cfg_.pbxes)
    log::info(log_name, "connecting to PBX",
              {{"pbx", pbx.name},
               {"host", pbx.host},
               {"port", std::to_string(pbx.port)}});
  if (cfg_.pbxes.empty())
    log::info(log_name, "no PBX configured: AMI is off");
  if (!opts_.http)
    return {};
  http_deps deps{sys_, cfg_};
  deps.writer = writer_;
  deps.matcher = matcher_;
  deps.tracker = tracker_;
  if (ucid_calls_)
    deps.live_calls.push_back(live_calls_of(sys_, "ozonetel", ucid_calls_));
  if (!cfg_.pbxes.empty()) {
    auto sup = supervisor_;
    auto& sys = sys_;
    auto timeout = std::chrono::duration_cast<caf::timespan>(
        std::chrono::duration<double>{cfg_.http.request_timeout_seconds});
    deps.connections = [&sys, sup, timeout] {
      auto states = http_ask<std::vector<connection_status>>(sys, sup, timeout,
                                                             status_atom_v);
      if (states)
        return std::move(*states);
      return std::vector<connection_status>{
          {"supervisor", "unknown", to_string(states.error()), 0, 0}};
    };
  }
  http_ = std::make_unique<http_server>(std::move(deps));
  http_->add_routes(mount_metrics);
  // Mounted even without an account: the routes then answer 503 naming the
  // keys to set, instead of a bare 404.
  auto calls = ucid_calls_;
  http_->add_routes([calls](http::router& routes, const http_context& ctx) {
    mount_ozonetel_routes(routes, ctx, calls);
  });
  auto port = http_->start();
  if (!port)
    return port.error();
  log::info(log_name, "HTTP listening",
            {{"listen", cfg_.http.listen}, {"port", std::to_string(*port)}});
  return {};
}

int64_t server::stop(std::chrono::milliseconds drain_timeout) {
  if (stopped_)
    return 0;
  stopped_ = true;
  // Order matters: first nothing new comes in (HTTP, PBX sockets), then the
  // calls already completed drain through matcher and writer, then the rest.
  if (http_)
    http_->stop();
  caf::scoped_actor self{sys_};
  if (supervisor_)
    self->send_exit(supervisor_, caf::exit_reason::user_shutdown);
  if (ucid_calls_)
    self->send_exit(ucid_calls_, caf::exit_reason::user_shutdown);
  int64_t pending = 0;
  if (writer_) {
    auto deadline = std::chrono::steady_clock::now() + drain_timeout;
    for (;;) {
      pending = -1;
      self->request(writer_, std::chrono::seconds{1}, status_atom_v)
          .receive([&](int64_t n) { pending = n; }, [&](caf::error&) {});
      if (pending == 0 || std::chrono::steady_clock::now() >= deadline)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    if (pending > 0)
      log::warning(log_name, "records not committed at shutdown",
                   {{"pending", std::to_string(pending)},
                    {"spool", cfg_.db.spool_path}});
  }
  for (auto handle : {caf::actor_cast<caf::actor>(tracker_),
                      caf::actor_cast<caf::actor>(matcher_),
                      caf::actor_cast<caf::actor>(writer_)})
    if (handle)
      self->send_exit(handle, caf::exit_reason::user_shutdown);
  return pending < 0 ? 0 : pending;
}

uint16_t server::http_port() const noexcept {
  return http_ ? http_->port() : 0;
}

std::vector<connection_status> server::connections() const {
  std::vector<connection_status> result;
  if (!supervisor_)
    return result;
  caf::scoped_actor self{sys_};
  self->request(supervisor_, std::chrono::seconds{2}, status_atom_v)
      .receive(
          [&](std::vector<connection_status>& xs) { result = std::move(xs); },
          [](caf::error&) {});
  return result;
}

} // namespace sb
