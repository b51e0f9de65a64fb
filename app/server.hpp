#pragma once

// The whole switchboard process minus main(): spawns the pipeline actors,
// wires them, mounts the HTTP routes and shuts everything down in order.
// main(), `switchboard demo` and the end-to-end tests all start the server
// through this class, so they run the same wiring.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "app/root_supervisor.hpp"
#include "core/agent_tokens.hpp"
#include "config/config.hpp"
#include "core/api_tokens.hpp"
#include "core/flow_gate.hpp"
#include "core/handle_slot.hpp"
#include "messages/ami_supervisor_actor.hpp"
#include "adapters/cdr/status_board.hpp"
#include "messages/call_tracker_actor.hpp"
#include "messages/comms_log_writer_actor.hpp"
#include "messages/customer_matcher_actor.hpp"
#include "core/event_signal.hpp"
#include "messages/drain.hpp"
#include "messages/event_log_actor.hpp"
#include "messages/webhooks_actor.hpp"
#include "messages/ucid_calls_actor.hpp"

namespace sb {

class http_server;

/// Knobs that production leaves at their defaults and tests shorten.
struct server_options {
  /// First reconnect delay of a failed PBX connection (1 s doubling to
  /// 30 s).
  std::chrono::milliseconds reconnect_initial{1000};
  std::chrono::milliseconds reconnect_max{30000};
  /// Serve HTTP (off for pipeline-only tests).
  bool http = true;
  /// Restarts of one pipeline actor allowed within `restart_window` before
  /// the server gives up.
  size_t max_restarts = 5;
  std::chrono::seconds restart_window{60};
  /// Called (on an actor thread) when a pipeline actor keeps dying: main()
  /// then stops the server and exits with 1.
  std::function<void(const std::string&)> on_give_up;
};

class server {
public:
  server(caf::actor_system& sys, app_config cfg, server_options opts = {});
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Spawns the actors and starts the HTTP listener. An error names what
  /// failed (the listen address, ...).
  caf::expected<void> start();

  /// Stops accepting HTTP requests and PBX events, lets the pipeline drain
  /// what it holds into the database (bounded by `drain_timeout`), then
  /// stops the actors. Idempotent. Returns the records that could not be
  /// committed in time (they stay in the writer's spool file).
  int64_t stop(std::chrono::milliseconds drain_timeout
               = std::chrono::seconds{10});

  /// What the last stop() committed, spooled and lost.
  drain_report last_drain() const noexcept {
    return drain_;
  }

  /// SIGHUP: applies what can change while running (log.level, the HTTP
  /// tokens, a reload of the customer index) and logs, naming them, the
  /// changed keys that need a restart. `next` is a fully validated config.
  void reload(const app_config& next);

  /// The HTTP port actually bound (0 before start() or without HTTP).
  uint16_t http_port() const noexcept;

  /// The state of every PBX connection (empty without PBXes).
  std::vector<connection_status> connections() const;

  const app_config& config() const noexcept {
    return cfg_;
  }

  // The running pipeline actors (a restart replaces them).
  comms_log_writer_actor writer() const;
  customer_matcher_actor matcher() const;
  call_tracker_actor tracker() const;
  ami_supervisor_actor supervisor() const;
  ucid_calls_actor ucid_calls() const;
  event_log_actor event_log() const;
  /// Null when no webhook is configured.
  webhooks_actor webhooks() const;

private:
  caf::actor_system& sys_;
  app_config cfg_;
  server_options opts_;
  std::vector<supervised_child> supervised_children();
  caf::actor respawn_ucid_calls();

  /// Guards the five handles: the root supervisor replaces them on its
  /// thread while others read them.
  mutable std::mutex handles_mutex_;
  /// Completed AMI calls between tracker and database (charged by the
  /// tracker, released by the writer): at tracker.max_queued_calls the PBX
  /// readers stop.
  std::shared_ptr<flow_gate> downstream_;
  comms_log_writer_actor writer_;
  customer_matcher_actor matcher_;
  call_tracker_actor tracker_;
  ami_supervisor_actor supervisor_;
  ucid_calls_actor ucid_calls_;
  /// Agent tokens (hashes): ucid_calls keeps them, the HTTP router checks.
  agent_tokens_ptr agent_tokens_ = std::make_shared<agent_token_table>();
  event_log_actor event_log_;
  webhooks_actor webhooks_;
  /// Rung after each commit of events (the live stream and webhooks wait).
  shared_event_signal events_signal_ = std::make_shared<event_signal>();
  /// What the Ozonetel routes ask (replaced with ucid_calls_).
  shared_handle<ucid_calls_actor> ucid_calls_slot_
      = make_shared_handle(ucid_calls_actor{});
  root_supervisor_actor root_;
  /// The CDR catch-up actor of each PBX with a cdr_url (fixed at start).
  std::vector<std::pair<std::string, caf::actor>> cdr_catchups_;
  std::shared_ptr<cdr::status_board> cdr_board_
      = std::make_shared<cdr::status_board>();
  std::unique_ptr<http_server> http_;
  bool stopped_ = false;
  drain_report drain_;
};

/// The keys whose value differs between `before` and `after` and that only a
/// restart applies (everything but log.level, http.token, http.read_token),
/// as "section.key" / "pbx.<name>.key"; secrets compared, never printed.
std::vector<std::string> keys_needing_restart(const app_config& before,
                                              const app_config& after);

/// Registers everything switchboard sends between actors.
void add_switchboard_types(caf::actor_system_config& cfg);

} // namespace sb
