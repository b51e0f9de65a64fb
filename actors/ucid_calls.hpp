#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/optional.hpp>

#include "adapters/metrics/registry.hpp"
#include "config/config.hpp"
#include "messages/customer_matcher_actor.hpp"
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
  /// Respawning a dead session: first delay, doubling up to the maximum.
  std::chrono::milliseconds restart_initial{1000};
  std::chrono::milliseconds restart_max{30000};
};

/// Where a call is in its life (SPEC section 3): dialing -> ringing ->
/// answered -> (ended) -> acw -> disposed, or missed. `ended` is final for
/// calls that need no disposition from us (another agent's call, or a
/// disposition CloudAgent refused).
enum class ucid_call_phase { dialing, ringing, answered, ended, acw, disposed, missed };

const char* to_string(ucid_call_phase x) noexcept;

enum class disposition_progress {
  /// Nothing sent yet.
  none,
  /// A request is with the session.
  sending,
  /// CloudAgent was down: a retry is scheduled.
  retrying,
  /// CloudAgent took it (saved, queued, or already disposed).
  done,
  /// CloudAgent refused even the default disposition.
  failed,
};

struct ucid_call {
  std::string ucid;
  call_direction direction = call_direction::inbound;
  ucid_call_phase phase = ucid_call_phase::dialing;
  std::string agent_id;
  std::string external_number;
  std::string did;
  std::string campaign;
  caf::optional<int64_t> customer_id;
  unix_micros created_at = 0;
  unix_micros ringing_at = 0;
  unix_micros answered_at = 0;
  unix_micros ended_at = 0;
  bool answered = false;
  /// How an unanswered call ended (no_answer, busy, failed).
  call_disposition unanswered_outcome = call_disposition::no_answer;
  /// Finalized without its end (max_call_age): times are best known.
  bool incomplete = false;

  disposition_progress progress = disposition_progress::none;
  /// As the agent named it (ours, e.g. APPOINTMENT_BOOKED, or a campaign
  /// name); empty for the automatic default.
  std::string disposition_name;
  /// What CloudAgent was (or is being) sent.
  std::string campaign_disposition;
  std::string notes;
  std::string callback_time;
  /// Sent by switchboard because the agent set none in time.
  bool automatic = false;
  /// Disposed in CloudAgent by someone else (the callback says so).
  bool disposed_elsewhere = false;
  int disposition_attempts = 0;
  std::string disposition_answer;
  /// Invalidates older ACW timers.
  uint64_t acw_generation = 0;

  bool callback_seen = false;
  int64_t callback_duration_seconds = 0;
  int64_t callback_talk_seconds = 0;

  /// completed_calls sent to the matcher (a late callback sends a second,
  /// which the writer merges into the same row).
  int emitted = 0;
  unix_micros finished_at = 0;
};

struct ucid_calls_state {
  static inline const char* name = "ucid_calls";
  sb::metrics::actor_metrics* metrics = &sb::metrics::global().actor(name);
  /// switchboard_calls_live{source="ozonetel"}, refreshed after every
  /// handled message.
  sb::metrics::gauge* live_calls
    = &sb::metrics::global().get_gauge("switchboard_calls_live",
                                       "Calls in progress, by source.",
                                       {{"source", "ozonetel"}});

  using session_factory
    = std::function<ozonetel_session_actor(caf::actor_system&)>;

  ozonetel_config cfg;
  ucid_calls_options opts;
  customer_matcher_actor matcher;
  session_factory make_session;
  ozonetel_session_actor session;
  int session_restarts = 0;
  bool restart_scheduled = false;

  std::unordered_map<std::string, ucid_call> calls;

  /// The outbound-pending flag: one agent, one dial, one lifetime. Cleared
  /// when the dial's bridge is answered, when its call ends or fails, and
  /// when it expires; never matched against a call with another UCID.
  struct pending_outbound {
    std::string ucid;
    std::string agent_id;
    uint64_t generation = 0;
  };
  caf::optional<pending_outbound> pending;
  uint64_t next_generation = 1;
  /// A dial request is with CloudAgent (a second one would race it).
  bool dial_in_flight = false;

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

} // namespace sb
