#pragma once

// The ucid_calls actor: a thin shell around the CloudAgent call book (the
// decisions, domain/ozonetel_call_book.hpp) that owns the session, arms the
// book's timers and sends its entries to the matcher.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/optional.hpp>

#include "adapters/metrics/registry.hpp"
#include "adapters/store/database.hpp"
#include "core/agent_tokens.hpp"
#include "core/backoff.hpp"
#include "config/config.hpp"
#include "core/time.hpp"
#include "domain/ozonetel_call_book.hpp"
#include "messages/customer_matcher_actor.hpp"
#include "messages/event_log_actor.hpp"
#include "messages/ozonetel_session_actor.hpp"
#include "messages/ucid_calls_actor.hpp"

namespace sb {

struct ucid_calls_options {
  /// Disposition retries while CloudAgent is down: first delay, doubling up
  /// to the maximum, for as long as it takes.
  std::chrono::milliseconds retry_initial{2000};
  std::chrono::milliseconds retry_max{60000};
  /// Finished calls are kept this long, so that a late callback or a second
  /// dispose finds them (and merges / is refused) instead of starting over.
  std::chrono::seconds finished_retention{3600};
  /// A call that never ends (no event, no callback) is closed after this.
  std::chrono::seconds max_call_age{4 * 3600};
  std::chrono::milliseconds sweep_interval{60000};
  /// How long to wait for the session's answer (0 = derived from
  /// ozonetel.request_timeout_seconds and the session's retries).
  std::chrono::milliseconds session_timeout{0};
  /// A failed Subscribe call: first delay, doubling up to the maximum
  /// (0 = ozonetel.subscribe_retry_max_seconds).
  std::chrono::milliseconds subscribe_retry_initial{1000};
  std::chrono::milliseconds subscribe_retry_max{0};
  /// Respawning a dead session: first delay, doubling up to the maximum.
  std::chrono::milliseconds restart_initial{1000};
  std::chrono::milliseconds restart_max{30000};
  /// The database holding agents and every UCID's state (db.url); empty =
  /// in memory only (tests of the book's decisions).
  std::string db_url;
  /// Agent tokens the HTTP authenticator checks; kept in step with the
  /// stored agents. May be null.
  agent_tokens_ptr agent_tokens;
};

struct ucid_calls_state {
  static inline const char* name = "ucid_calls";
  sb::metrics::actor_metrics* metrics = &sb::metrics::global().actor(name);
  /// switchboard_calls_live{source="ozonetel"}, refreshed after every
  /// handled message.
  sb::metrics::gauge* live_calls = &sb::metrics::global().get_gauge(
      "switchboard_calls_live", "Calls in progress, by source.",
      {{"source", "ozonetel"}});

  using session_factory
      = std::function<ozonetel_session_actor(caf::actor_system&)>;

  ozonetel_config cfg;
  ucid_calls_options opts;
  customer_matcher_actor matcher;
  /// Where ozonetel.* events go (none = not logged).
  event_log_actor events;
  session_factory make_session;
  ozonetel_session_actor session;
  int session_restarts = 0;
  bool restart_scheduled = false;

  /// Every call followed by UCID, the outbound-pending flag and the dial in
  /// flight: the decisions; this actor performs them.
  std::unique_ptr<ozonetel_call_book> book;
  /// The clock the book's deadlines and the calls' times are on.
  wall_clock clock = system_wall_clock();

  /// Agents by id: the default agent, [ozonetel.agent.<id>] sections and
  /// the stored ones (secrets included; never sent out whole).
  std::map<std::string, ozonetel_agent> agents;
  /// Durable state: agents and every UCID (null = memory only).
  std::unique_ptr<store::database> db;
  /// UCIDs whose state could not be stored yet (the database was down).
  std::set<std::string> unsaved;
  /// The last CloudAgent failure, for /readyz.
  std::string last_error;
  /// "off", "pending", "subscribed", "retrying", "failed" (see
  /// ozonetel_health).
  std::string subscription = "off";
  std::string subscription_error;
  /// The Subscribe call: retried until it succeeds, with backoff and jitter;
  /// the generation names the current retry timer (older ones do nothing).
  backoff subscribe_backoff{std::chrono::seconds{1}, std::chrono::minutes{5},
                            0.25};
  uint64_t subscribe_generation = 0;
  bool subscribe_in_flight = false;
  int64_t subscribe_attempts = 0;
  int64_t subscribe_failures = 0;
  unix_micros subscribe_retry_at = 0;

  ucid_calls_state() = default;
  ucid_calls_state(const ucid_calls_state&) = delete;
  ucid_calls_state& operator=(const ucid_calls_state&) = delete;
  /// Stops the session.
  ~ucid_calls_state();
};

/// Spawn with the Ozonetel config, the matcher that receives each call's
/// completed_call, and a factory for the session actor: ucid_calls spawns the
/// session, monitors it and respawns it with backoff when it dies. An empty
/// factory or a config without account makes CloudAgent requests answer
/// "unavailable" (callbacks and browser events are still recorded).
ucid_calls_actor::behavior_type
ucid_calls(ucid_calls_actor::stateful_pointer<ucid_calls_state> self,
           ozonetel_config cfg, customer_matcher_actor matcher,
           ucid_calls_state::session_factory make_session,
           ucid_calls_options opts = {});

/// As ucid_calls, with the clock its deadlines and call times run on (tests
/// pass the deterministic scheduler's).
ucid_calls_actor::behavior_type
ucid_calls_with_clock(ucid_calls_actor::stateful_pointer<ucid_calls_state> self,
                      ozonetel_config cfg, customer_matcher_actor matcher,
                      ucid_calls_state::session_factory make_session,
                      ucid_calls_options opts, wall_clock clock);

} // namespace sb
