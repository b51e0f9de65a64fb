#pragma once

// CloudAgent agents and CloudAgent's real-time events (Subscribe API) as
// they cross actor boundaries: the agents the HTTP edge manages, the call
// and agent events the receivers hand to ucid_calls.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include "core/enum_names.hpp"
#include "core/time.hpp"

namespace sb {

/// One CloudAgent agent switchboard acts for.
struct ozonetel_agent {
  std::string id;
  std::string name;
  /// SIP extension or phone number (phoneNumber at agent login).
  std::string extension;
  /// AgentAuthenticationV2 password. Secret: left out of inspect().
  std::string password;
  /// "config" ([ozonetel.agent.<id>] or ozonetel.agent_id) or "api".
  std::string source = "api";
  /// The agent has a token (its hash is stored).
  bool has_token = false;
  /// SHA-256 (hex) of the agent's token; empty = none. Not a secret by
  /// itself, still kept out of inspect().
  std::string token_hash;
  /// A token just issued, shown once in the answer that created it; never
  /// stored. Secret: left out of inspect().
  std::string token;
  unix_micros created_at = 0;
  unix_micros updated_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ozonetel_agent& x) {
  return f(caf::meta::type_name("ozonetel_agent"), x.id, x.name, x.extension,
           x.source, x.has_token, x.created_at, x.updated_at);
}

/// What an agents request asks of ucid_calls.
enum class agent_change : uint8_t {
  /// Add a new agent (its token is issued with it).
  create,
  /// Change name / extension / password of an existing agent.
  update,
  remove,
  /// Issue a new token (the old one stops working).
  issue_token,
  /// Revoke the token.
  revoke_token,
};

inline constexpr const char* agent_change_names[]
    = {"create", "update", "remove", "issue_token", "revoke_token"};

inline const char* to_string(agent_change x) noexcept {
  return enum_name(agent_change_names, x);
}

inline bool from_string(std::string_view s, agent_change& x) noexcept {
  return enum_from_name(agent_change_names, s, x);
}

/// A change of the agents, from the HTTP edge.
struct agent_change_request {
  agent_change change = agent_change::create;
  std::string id;
  caf::optional<std::string> name;
  caf::optional<std::string> extension;
  /// Secret (not inspected).
  caf::optional<std::string> password;
  /// For create / issue_token: the new token and its hash, made by the edge
  /// (the token never reaches the store).
  std::string token;
  std::string token_hash;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_change_request& x) {
  return f(caf::meta::type_name("agent_change_request"), x.change, x.id,
           x.name, x.extension);
}

/// The answer to an agents request.
struct agent_change_reply {
  /// ok | invalid | not_found | conflict | unavailable (ucid_reply_code).
  uint8_t code = 0;
  std::string message;
  ozonetel_agent agent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_change_reply& x) {
  return f(caf::meta::type_name("agent_change_reply"), x.code, x.message,
           x.agent);
}

/// CloudAgent's call event (Subscribe API, callEventsURL).
struct ozonetel_call_event {
  std::string event_type;
  /// "Calling", "Answered", "Disconnect" (kept as sent, matched loosely).
  std::string action;
  /// "InBound", "Manual", "Progressive", ...
  std::string call_type;
  std::string ucid;
  std::string monitor_ucid;
  std::string agent_id;
  std::string caller_id;
  std::string did;
  std::string agent_number;
  std::string skill;
  /// event_time as sent, and read in ozonetel.timezone (0 = unreadable).
  std::string event_time_text;
  unix_micros event_time = 0;
  unix_micros received_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ozonetel_call_event& x) {
  return f(caf::meta::type_name("ozonetel_call_event"), x.event_type, x.action,
           x.call_type, x.ucid, x.monitor_ucid, x.agent_id, x.caller_id, x.did,
           x.agent_number, x.skill, x.event_time_text, x.event_time,
           x.received_at);
}

/// CloudAgent's agent event (Subscribe API, agentEventsURL).
struct ozonetel_agent_event {
  std::string agent_id;
  /// Our name for it: ready, busy, acw, paused, logged_out, logged_in, or
  /// CloudAgent's own text (lower case) for anything else.
  std::string state;
  /// CloudAgent's words as sent (action / event / state).
  std::string raw_state;
  unix_micros event_time = 0;
  unix_micros received_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ozonetel_agent_event& x) {
  return f(caf::meta::type_name("ozonetel_agent_event"), x.agent_id, x.state,
           x.raw_state, x.event_time, x.received_at);
}

/// What the Ozonetel side tells /readyz.
struct ozonetel_health {
  bool enabled = false;
  bool session_running = false;
  bool has_token = false;
  int64_t token_expires_at = 0;
  int64_t generations_last_hour = 0;
  std::string last_error;
  /// "off" (not configured), "pending" (the Subscribe call is out),
  /// "subscribed", "retrying" (it failed; retried with backoff), "failed"
  /// (cannot be made: the configuration lacks what it needs).
  std::string subscription = "off";
  std::string subscription_error;
  /// Subscribe HTTP calls since start (the session's retries included).
  int64_t subscription_attempts = 0;
  /// Subscribe calls that failed in a row (0 once one succeeds).
  int64_t subscription_failures = 0;
  /// When the next Subscribe call goes out (unix micros; 0 = none due).
  int64_t subscription_retry_at = 0;
  int64_t tracked_calls = 0;
  int64_t pending_dispositions = 0;
  int64_t agents = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ozonetel_health& x) {
  return f(caf::meta::type_name("ozonetel_health"), x.enabled,
           x.session_running, x.has_token, x.token_expires_at,
           x.generations_last_hour, x.last_error, x.subscription,
           x.subscription_error, x.subscription_attempts,
           x.subscription_failures, x.subscription_retry_at, x.tracked_calls, x.pending_dispositions,
           x.agents);
}

} // namespace sb
