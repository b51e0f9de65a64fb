#include "app/server.hpp"
#include "core/db_url.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <type_traits>
#include <utility>

#include <caf/all.hpp>

#include "actors/ami_supervisor.hpp"
#include "actors/call_tracker.hpp"
#include "actors/cdr_catchup.hpp"
#include "actors/comms_log_writer.hpp"
#include "actors/customer_matcher.hpp"
#include "actors/event_log.hpp"
#include "actors/webhooks.hpp"
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

/// GET /metrics: the registry in the Prometheus text format, no auth:
/// nothing in it is secret.
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

/// "section.key" -> printed value, from describe() (secrets masked).
std::map<std::string, std::string> described_keys(const app_config& cfg) {
  std::map<std::string, std::string> keys;
  std::istringstream in{describe(cfg)};
  std::string line;
  std::string section;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    if (line[0] == '[') {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    auto eq = line.find(" = ");
    if (eq != std::string::npos)
      keys[section + "." + line.substr(0, eq)] = line.substr(eq + 3);
  }
  return keys;
}

/// POST /api/calls/originate's way to the PBXes: the supervisor, asked
/// for a little longer than the slowest PBX may take to answer (its
/// connection answers 504 at originate_answer_seconds).
originate_function
originate_through(caf::actor_system& sys,
                  std::function<ami_supervisor_actor()> supervisor,
                  const std::vector<pbx_config>& pbxes) {
  double slowest = 0;
  for (const auto& p : pbxes)
    slowest = std::max(slowest, p.originate_answer_seconds);
  auto bound = std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>{slowest + 1});
  return [&sys, supervisor = std::move(supervisor),
          bound](const originate_request& req, caf::timespan timeout) {
    return http_ask<originate_reply>(sys, supervisor(),
                                     std::max(timeout, bound),
                                     originate_atom_v, req);
  };
}

} // namespace

std::vector<std::string> keys_needing_restart(const app_config& before,
                                              const app_config& after) {
  static const std::set<std::string> live{"log.level", "http.token",
                                          "http.read_token",
                                          "http.cors_origins"};
  auto old_keys = described_keys(before);
  auto new_keys = described_keys(after);
  std::set<std::string> changed;
  for (const auto& [key, value] : old_keys)
    if (new_keys.count(key) == 0 || new_keys[key] != value)
      changed.insert(key);
  for (const auto& [key, value] : new_keys)
    if (old_keys.count(key) == 0)
      changed.insert(key);
  // describe() masks secrets alike: compare those values themselves.
  auto secret = [&changed](const std::string& key, const std::string& a,
                           const std::string& b) {
    if (a != b)
      changed.insert(key);
  };
  secret("db.url", before.db.url, after.db.url);
  secret("ozonetel.api_key", before.ozonetel.api_key, after.ozonetel.api_key);
  secret("ozonetel.agent_password", before.ozonetel.agent_password,
         after.ozonetel.agent_password);
  secret("ozonetel.callback_token", before.ozonetel.callback_token,
         after.ozonetel.callback_token);
  for (const auto& pbx : after.pbxes)
    for (const auto& old : before.pbxes)
      if (old.name == pbx.name)
        secret("pbx." + pbx.name + ".secret", old.secret, pbx.secret);
  std::vector<std::string> result;
  for (const auto& key : changed)
    if (live.count(key) == 0)
      result.push_back(key);
  return result;
}

void server::reload(const app_config& next) {
  log::level lvl = log::level::info;
  if (log::parse_level(next.log.level, lvl)
      && next.log.level != cfg_.log.level) {
    log::set_level(lvl);
    log::info(log_name, "reload: log level changed",
              {{"level", next.log.level}});
  }
  api_tokens tokens{next.http.token, next.http.read_token};
  bool tokens_changed = next.http.token != cfg_.http.token
                        || next.http.read_token != cfg_.http.read_token;
  if (tokens_changed) {
    if (http_)
      http_->set_tokens(tokens);
    log::info(log_name, "reload: HTTP tokens replaced");
    cfg_.http.token = next.http.token;
    cfg_.http.read_token = next.http.read_token;
  }
  if (next.http.cors_origins != cfg_.http.cors_origins) {
    if (http_)
      http_->set_cors_origins(next.http.cors_origins);
    log::info(log_name, "reload: CORS origins replaced",
              {{"origins", next.http.cors_origins}});
    cfg_.http.cors_origins = next.http.cors_origins;
  }
  cfg_.log.level = next.log.level;
  // Customers imported by `switchboard import-customers` since the start.
  if (matcher_) {
    caf::anon_send(matcher_, reload_atom_v);
    log::info(log_name, "reload: customer index reloading");
  }
  auto restart = keys_needing_restart(cfg_, next);
  if (!restart.empty()) {
    std::string names;
    for (const auto& key : restart)
      names += (names.empty() ? "" : ",") + key;
    log::warning(log_name, "reload: changed keys need a restart",
                 {{"keys", names}});
  }
}

void add_switchboard_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::switchboard>();
  add_error_category(cfg);
}

server::server(caf::actor_system& sys, app_config cfg, server_options opts)
    : sys_(sys), cfg_(std::move(cfg)), opts_(std::move(opts)) {}

server::~server() {
  stop(std::chrono::seconds{2});
}

caf::expected<void> server::start() {
  metrics::register_process_metrics(metrics::global());
  metrics::global()
      .get_gauge("switchboard_build_info",
                 "The running build: always 1, its labels say which.",
                 {{"version", SB_VERSION}, {"revision", SB_REVISION}})
      .set(1);
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
  downstream_ = std::make_shared<flow_gate>(cfg_.tracker.max_queued_calls);
  // The event log only queues (its store thread writes): it never waits.
  event_log_ = sys_.spawn(sb::event_log, cfg_.db.url, cfg_.events,
                          events_signal_);
  writer_ = sys_.spawn<caf::detached>(comms_log_writer_bounded, cfg_.db,
                                      downstream_);
  caf::anon_send(writer_, events_atom_v,
                 caf::actor_cast<caf::actor>(event_log_));
  // Calls held while the customer index cannot load survive a crash in a
  // spool of their own, beside the writer's.
  matcher_ = sys_.spawn<caf::detached>(
      bounded_customer_matcher, cfg_.phone, cfg_.db.url, writer_,
      cfg_.db.spool_path.empty() ? std::string{}
                                 : cfg_.db.spool_path + ".held",
      downstream_);
  caf::anon_send(matcher_, events_atom_v,
                 caf::actor_cast<caf::actor>(event_log_));
  tracker_ = sys_.spawn(call_tracker_bounded, cfg_.pbxes, cfg_.tracker,
                        matcher_, downstream_);
  // Webhook senders read the event table on threads of their own: the
  // pipeline never sends them anything, so a slow receiver slows nobody.
  if (!cfg_.webhooks.empty())
    webhooks_ = sys_.spawn(sb::webhooks, cfg_.db.url, cfg_.webhooks,
                           cfg_.events.poll_seconds, events_signal_);
  // Each its own thread: a slow or unreachable CDR database blocks only it.
  for (const auto& pbx : cfg_.pbxes) {
    if (pbx.cdr_url.empty())
      continue;
    auto catchup = caf::actor_cast<caf::actor>(sys_.spawn<caf::detached>(
        cdr_catchup, pbx, cfg_.db.url, caf::actor_cast<caf::actor>(matcher_),
        cdr_board_));
    cdr_catchups_.emplace_back(pbx.name, catchup);
    caf::anon_send(tracker_, rewire_atom_v, pbx.name, catchup);
  }
  backoff_policy backoff;
  backoff.initial = opts_.reconnect_initial;
  backoff.max = opts_.reconnect_max;
  supervisor_ = sys_.spawn(sb::ami_supervisor, cfg_.pbxes, tracker_, backoff);
  if (cfg_.ozonetel.enabled()) {
    ucid_calls_ = caf::actor_cast<ucid_calls_actor>(respawn_ucid_calls());
    ucid_calls_slot_->set(ucid_calls_);
  }
  root_ = spawn_root_supervisor(
      sys_, supervised_children(),
      root_options{opts_.max_restarts, opts_.restart_window, opts_.on_give_up});
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
  deps.events_signal = events_signal_;
  // Customer changes, re-matches and failed Originates join the event log.
  deps.events = [log = event_log_](crm_event e) {
    caf::anon_send(log, append_atom_v,
                   event_record{std::move(e.type), std::move(e.origin),
                                std::move(e.call_id), std::move(e.extension),
                                std::move(e.agent_id), e.customer_id,
                                std::move(e.payload_json)});
  };
  deps.writer = writer_;
  deps.matcher = matcher_;
  deps.tracker = tracker_;
  if (!cdr_catchups_.empty()) {
    auto board = cdr_board_;
    deps.cdr_status = [board] { return board->snapshot(); };
  }
  if (ucid_calls_) {
    deps.live_calls.push_back(
        live_calls_of(sys_, "ozonetel", ucid_calls_slot_));
    auto slot = ucid_calls_slot_;
    auto& sys = sys_;
    deps.cloudagent_health = [slot, &sys](caf::timespan timeout)
        -> caf::optional<ozonetel_health> {
      auto h = http_ask<ozonetel_health>(sys, slot->get(), timeout,
                                         health_atom_v);
      if (!h)
        return caf::none;
      return std::move(*h);
    };
  }
  deps.agent_tokens = agent_tokens_;
  if (!cfg_.webhooks.empty()) {
    auto& sys = sys_;
    auto timeout = std::chrono::duration_cast<caf::timespan>(
        std::chrono::duration<double>{cfg_.http.request_timeout_seconds});
    deps.webhooks = [this, &sys, timeout] {
      auto states = http_ask<std::vector<webhook_status>>(sys, webhooks(),
                                                          timeout, status_atom_v);
      return states ? std::move(*states) : std::vector<webhook_status>{};
    };
  }
  if (!cfg_.pbxes.empty()) {
    auto& sys = sys_;
    auto timeout = std::chrono::duration_cast<caf::timespan>(
        std::chrono::duration<double>{cfg_.http.request_timeout_seconds});
    deps.connections = [this, &sys, timeout] {
      auto states = http_ask<std::vector<connection_status>>(
          sys, supervisor(), timeout, status_atom_v);
      if (states)
        return std::move(*states);
      return std::vector<connection_status>{
          {"supervisor", connection_state::unknown, to_string(states.error()),
           0, 0}};
    };
    deps.originate = originate_through(
        sys, [this] { return supervisor(); }, cfg_.pbxes);
  }
  http_ = std::make_unique<http_server>(std::move(deps));
  http_->add_routes(mount_metrics);
  // Mounted even without an account: the routes then answer 503 naming the
  // keys to set, instead of a bare 404.
  auto calls = ucid_calls_slot_;
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
  // From here on actors exit on purpose: nothing is restarted any more.
  if (root_)
    self->request(root_, std::chrono::seconds{5}, flush_atom_v)
        .receive([](bool) {}, [](caf::error&) {});
  const auto writer_now = writer();
  const auto matcher_now = matcher();
  const auto tracker_now = tracker();
  const auto supervisor_now = supervisor();
  const auto calls_now = ucid_calls();
  auto t0 = std::chrono::steady_clock::now();
  auto deadline = t0 + drain_timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds{0},
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
  };
  if (calls_now)
    self->send_exit(calls_now, caf::exit_reason::user_shutdown);
  // Then a flush passes every stage in order: each answers only after it
  // handed on all it holds, so the next one sees everything before its own
  // flush. The sockets close first (nothing new), then parser -> tracker
  // (hung-up calls waiting for their Cdr) -> matcher (held calls) -> writer
  // (commits within the budget, spools the rest).
  auto step_failed = [](const char* stage) {
    return [stage](caf::error& err) {
      log::error(log_name, "drain step failed",
                 {{"stage", stage}, {"error", describe(err)}});
    };
  };
  if (supervisor_now)
    self->request(supervisor_now, left() + std::chrono::seconds{1}, flush_atom_v)
        .receive([](bool) {}, step_failed("ami"));
  if (tracker_now)
    self->request(tracker_now, left() + std::chrono::seconds{1}, flush_atom_v)
        .receive([](int64_t) {}, step_failed("tracker"));
  drain_ = drain_report{};
  bool reported = false;
  auto take = [&](drain_report& report) {
    drain_ = report;
    reported = true;
  };
  auto failed = [&](caf::error& err) {
    log::error(log_name, "drain did not finish in time",
               {{"error", describe(err)}});
  };
  // The writer spools whatever it holds when the budget is over; it answers
  // in time because a spool append is a local fsync.
  auto budget = std::chrono::seconds{10} + left();
  if (matcher_now)
    self->request(matcher_now, budget, flush_atom_v, left().count())
        .receive(take, failed);
  if (!reported && writer_now)
    self->request(writer_now, std::chrono::seconds{10}, flush_atom_v, int64_t{0})
        .receive(take, failed);
  auto took
      = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
  log::info(log_name, "pipeline drained",
            {{"committed", std::to_string(drain_.committed)},
             {"spooled", std::to_string(drain_.spooled)},
             {"lost", std::to_string(drain_.lost)},
             {"seconds", std::to_string(took)}});
  if (drain_.lost > 0)
    log::error(
        log_name, "records lost at shutdown: the spool refused them",
        {{"lost", std::to_string(drain_.lost)}, {"spool", cfg_.db.spool_path}});
  // The pipeline's last events (call.logged of what was just committed)
  // are queued by now: give them a moment to reach the table.
  if (auto events = event_log())
    self->request(events, std::chrono::seconds{3}, flush_atom_v, int64_t{2000})
        .receive(
            [](int64_t left) {
              if (left > 0)
                log::warning(log_name, "events not written at stop",
                             {{"events", std::to_string(left)}});
            },
            step_failed("events"));
  if (supervisor_now)
    self->send_exit(supervisor_now, caf::exit_reason::user_shutdown);
  int64_t pending = drain_.spooled + drain_.lost;
  for (const auto& handle : {caf::actor_cast<caf::actor>(tracker_now),
                             caf::actor_cast<caf::actor>(matcher_now),
                             caf::actor_cast<caf::actor>(writer_now),
                             caf::actor_cast<caf::actor>(event_log()),
                             caf::actor_cast<caf::actor>(webhooks()),
                             caf::actor_cast<caf::actor>(root_)})
    if (handle)
      self->send_exit(handle, caf::exit_reason::user_shutdown);
  // A gap not read yet is read again at the next start-up (from the last
  // call logged).
  for (auto& [pbx, catchup] : cdr_catchups_)
    self->send_exit(catchup, caf::exit_reason::user_shutdown);
  return pending < 0 ? 0 : pending;
}

caf::actor server::respawn_ucid_calls() {
  auto session_cfg = cfg_.ozonetel;
  ucid_calls_options opts;
  opts.db_url = cfg_.db.url;
  opts.agent_tokens = agent_tokens_;
  // Detached: it stores every call's state as it changes (a database round
  // trip per message) and must not hold a scheduler thread meanwhile.
  auto calls = sys_.spawn<caf::detached>(
      sb::ucid_calls, cfg_.ozonetel, matcher(),
      [session_cfg](caf::actor_system& sys) {
        return sys.spawn(ozonetel_session, session_cfg,
                         ozonetel_session_options{});
      },
      opts);
  caf::anon_send(calls, events_atom_v,
                 caf::actor_cast<caf::actor>(event_log()));
  return caf::actor_cast<caf::actor>(calls);
}

/// Each singleton with how to spawn it again and whom to tell. Callbacks run
/// on the root supervisor's thread; they read and replace the handles under
/// handles_mutex_, and rewire the actors that send to the new one.
std::vector<supervised_child> server::supervised_children() {
  std::vector<supervised_child> children;
  auto replace = [this](auto& member, const caf::actor& next) {
    using handle_type = std::decay_t<decltype(member)>;
    auto typed = caf::actor_cast<handle_type>(next);
    std::lock_guard<std::mutex> guard{handles_mutex_};
    member = typed;
    return typed;
  };
  children.push_back(
      {"comms_log_writer", caf::actor_cast<caf::actor>(writer_),
       [this] {
         auto writer = sys_.spawn<caf::detached>(comms_log_writer_bounded,
                                                 cfg_.db, downstream_);
         caf::anon_send(writer, events_atom_v,
                        caf::actor_cast<caf::actor>(event_log()));
         return caf::actor_cast<caf::actor>(writer);
       },
       [this, replace](const caf::actor& next) {
         // What the dead writer held is spooled or gone: so are its charges.
         downstream_->reset();
         auto writer = replace(writer_, next);
         caf::anon_send(matcher(), rewire_atom_v, next);
         if (http_)
           http_->rewire(writer);
       }});
  children.push_back(
      {"customer_matcher", caf::actor_cast<caf::actor>(matcher_),
       [this] {
         auto matcher = sys_.spawn<caf::detached>(
             bounded_customer_matcher, cfg_.phone, cfg_.db.url, writer(),
             cfg_.db.spool_path.empty() ? std::string{}
                                        : cfg_.db.spool_path + ".held",
             downstream_);
         caf::anon_send(matcher, events_atom_v,
                        caf::actor_cast<caf::actor>(event_log()));
         return caf::actor_cast<caf::actor>(matcher);
       },
       [this, replace](const caf::actor& next) {
         downstream_->reset();
         auto matcher = replace(matcher_, next);
         caf::anon_send(tracker(), rewire_atom_v, next);
         for (auto& [pbx, catchup] : cdr_catchups_)
           caf::anon_send(caf::actor_cast<cdr_catchup_actor>(catchup),
                          rewire_atom_v, next);
         if (auto calls = ucid_calls())
           caf::anon_send(calls, rewire_atom_v, next);
         if (http_)
           http_->rewire(matcher);
       }});
  children.push_back(
      {"call_tracker", caf::actor_cast<caf::actor>(tracker_),
       [this] {
         return caf::actor_cast<caf::actor>(
             sys_.spawn(call_tracker_bounded, cfg_.pbxes, cfg_.tracker,
                        matcher(), downstream_));
       },
       [this, replace](const caf::actor& next) {
         auto tracker = replace(tracker_, next);
         for (auto& [pbx, catchup] : cdr_catchups_)
           caf::anon_send(tracker, rewire_atom_v, pbx, catchup);
         caf::anon_send(supervisor(), rewire_atom_v, next);
         if (http_)
           http_->rewire(tracker);
       }});
  children.push_back(
      {"ami_supervisor", caf::actor_cast<caf::actor>(supervisor_),
       [this] {
         backoff_policy backoff;
         backoff.initial = opts_.reconnect_initial;
         backoff.max = opts_.reconnect_max;
         return caf::actor_cast<caf::actor>(
             sys_.spawn(sb::ami_supervisor, cfg_.pbxes, tracker(), backoff));
       },
       [replace, this](const caf::actor& next) {
         replace(supervisor_, next);
       }});
  if (webhooks_)
    children.push_back(
        {"webhooks", caf::actor_cast<caf::actor>(webhooks_),
         [this] {
           return caf::actor_cast<caf::actor>(
               sys_.spawn(sb::webhooks, cfg_.db.url, cfg_.webhooks,
                          cfg_.events.poll_seconds, events_signal_));
         },
         [replace, this](const caf::actor& next) { replace(webhooks_, next); }});
  if (ucid_calls_)
    children.push_back({"ucid_calls", caf::actor_cast<caf::actor>(ucid_calls_),
                        [this] { return respawn_ucid_calls(); },
                        [this, replace](const caf::actor& next) {
                          ucid_calls_slot_->set(replace(ucid_calls_, next));
                        }});
  return children;
}

comms_log_writer_actor server::writer() const {
  std::lock_guard<std::mutex> guard{handles_mutex_};
  return writer_;
}

customer_matcher_actor server::matcher() const {
  std::lock_guard<std::mutex> guard{handles_mutex_};
  return matcher_;
}

call_tracker_actor server::tracker() const {
  std::lock_guard<std::mutex> guard{handles_mutex_};
  return tracker_;
}

ami_supervisor_actor server::supervisor() const {
  std::lock_guard<std::mutex> guard{handles_mutex_};
  return supervisor_;
}

ucid_calls_actor server::ucid_calls() const {
  std::lock_guard<std::mutex> guard{handles_mutex_};
  return ucid_calls_;
}

event_log_actor server::event_log() const {
  std::lock_guard<std::mutex> guard{handles_mutex_};
  return event_log_;
}

webhooks_actor server::webhooks() const {
  std::lock_guard<std::mutex> guard{handles_mutex_};
  return webhooks_;
}

uint16_t server::http_port() const noexcept {
  return http_ ? http_->port() : 0;
}

std::vector<connection_status> server::connections() const {
  std::vector<connection_status> result;
  auto current = supervisor();
  if (!current)
    return result;
  caf::scoped_actor self{sys_};
  self->request(current, std::chrono::seconds{2}, status_atom_v)
      .receive(
          [&](std::vector<connection_status>& xs) { result = std::move(xs); },
          [](caf::error&) {});
  return result;
}

} // namespace sb
