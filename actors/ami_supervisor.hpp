#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "adapters/metrics/registry.hpp"
#include "config/config.hpp"
#include "core/backoff.hpp"
#include "core/flow_gate.hpp"
#include "core/restart_budget.hpp"
#include "messages/ami_connection_actor.hpp"
#include "messages/ami_parser_actor.hpp"
#include "messages/ami_supervisor_actor.hpp"
#include "messages/call_tracker_actor.hpp"

namespace sb {

/// How a failed connection is retried: 1 s doubling to 30 s, with jitter,
/// for failures before a session worked (refused, wrong secret, silent PBX);
/// a session that logged in and received its first events starts again from
/// `initial`. Injectable so tests run fast.
struct backoff_policy {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max{30000};
  /// A connection logged in for at least this long (or that received
  /// events) before failing starts again from `initial`; a shorter one keeps
  /// doubling. A wrong secret never logs in, so it backs off up to `max`.
  std::chrono::milliseconds healthy{5000};
  /// Connections started at once at start-up; the next group follows
  /// `stagger` later, so 1,000 PBXes do not all log in in the same instant.
  size_t start_group = 50;
  std::chrono::milliseconds stagger{50};
  /// Each delay is drawn from [(1 - jitter) * d, d], so PBXes that failed
  /// together do not reconnect in lockstep, and the delay still grows.
  double jitter = 0.25;
};

struct supervised_connection {
  pbx_config pbx;
  ami_parser_actor parser;
  ami_connection_actor connection;
  /// Bytes read from this PBX and not yet through the tracker, shared by
  /// its parser and each of its connections (pbx_config::max_queued_bytes).
  std::shared_ptr<flow_gate> gate;
  connection_status status;
  /// The delays of restarts after failures.
  std::optional<sb::backoff> delays;
  std::chrono::steady_clock::time_point logged_in_at;
  /// The current session passed on events (the PBX is really serving it).
  bool streamed = false;
  /// Bumped on every spawn; a restart timer of an older generation is stale.
  uint64_t generation = 0;
  /// The connection was closed on purpose to log in again at once (its
  /// parser or the tracker was replaced): no failure, no backoff.
  bool relogin = false;
  /// Restarts of this PBX's parser; past it the supervisor gives up.
  restart_budget parser_restarts;
  metrics::counter* reconnects = nullptr;
  metrics::gauge* state_connecting = nullptr;
  metrics::gauge* state_logged_in = nullptr;
  metrics::gauge* state_backing_off = nullptr;
};

struct ami_supervisor_state {
  static inline const char* name = "ami_supervisor";

  metrics::actor_metrics* metrics = &metrics::global().actor(name);
  std::vector<supervised_connection> connections;
  call_tracker_actor tracker;
  backoff_policy backoff;
  /// A stop is under way: connections are not restarted, and the flush
  /// is answered once every connection is down and every parser flushed.
  bool stopping = false;
  size_t stop_waiting = 0;
  caf::typed_response_promise<bool> stop_promise;

  supervised_connection* find(const std::string& pbx);

  /// Stops every child when the supervisor goes.
  ~ami_supervisor_state();
};

/// Spawn with the PBXes to keep connected and the tracker their events go to
/// (may be invalid: events are then parsed, counted and dropped).
ami_supervisor_actor::behavior_type ami_supervisor(
    ami_supervisor_actor::stateful_pointer<ami_supervisor_state> self,
    std::vector<pbx_config> pbxes, call_tracker_actor tracker,
    backoff_policy backoff);

} // namespace sb
