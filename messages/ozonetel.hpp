#pragma once

// What crosses actor boundaries on the Ozonetel side: CloudAgent's answers as
// the session hands them on (never a token, never the api key), the requests
// the HTTP edge makes of ucid_calls, and their replies.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include "core/enum_names.hpp"
#include "messages/calls.hpp"

namespace sb {

/// How one CloudAgent REST call ended.
enum class ozonetel_outcome : uint8_t {
  /// CloudAgent did it.
  ok,
  /// CloudAgent queued it (a disposition while the call is still up).
  accepted,
  /// It was done before ("This call is already Disposed.").
  already_done,
  /// CloudAgent refused the request itself.
  rejected,
  /// The token was refused (renewed and retried once by the session).
  unauthorized,
  server_error,
  network_error,
  /// An answer that could not be read.
  malformed,
  /// No token: the 10-per-hour generation cap is spent.
  rate_limited,
  /// No session (no account configured).
  unavailable,
};

inline constexpr const char* ozonetel_outcome_names[]
    = {"ok",           "accepted",     "already_done",  "rejected",
       "unauthorized", "server_error", "network_error", "malformed",
       "rate_limited", "unavailable"};

inline const char* to_string(ozonetel_outcome x) noexcept {
  return enum_name(ozonetel_outcome_names, x);
}

inline bool from_string(std::string_view s, ozonetel_outcome& x) noexcept {
  return enum_from_name(ozonetel_outcome_names, s, x);
}

/// How ucid_calls answered a request from the HTTP edge.
enum class ucid_reply_code : uint8_t {
  ok,
  /// CloudAgent queued it, or switchboard will retry it.
  accepted,
  invalid,
  not_found,
  conflict,
  /// CloudAgent refused or failed.
  upstream,
  /// No account or no session.
  unavailable,
};

inline constexpr const char* ucid_reply_code_names[]
    = {"ok",       "accepted", "invalid",    "not_found",
       "conflict", "upstream", "unavailable"};

inline const char* to_string(ucid_reply_code x) noexcept {
  return enum_name(ucid_reply_code_names, x);
}

inline bool from_string(std::string_view s, ucid_reply_code& x) noexcept {
  return enum_from_name(ucid_reply_code_names, s, x);
}

/// What the agent's browser saw happen to a SIP call.
enum class browser_event : uint8_t { ringing, answered, ended, failed };

inline constexpr const char* browser_event_names[]
    = {"ringing", "answered", "ended", "failed"};

inline const char* to_string(browser_event x) noexcept {
  return enum_name(browser_event_names, x);
}

inline bool from_string(std::string_view s, browser_event& x) noexcept {
  return enum_from_name(browser_event_names, s, x);
}

/// CloudAgent's answer to one REST call.
struct ozonetel_answer {
  /// CloudAgent's name of the call ("AgentManualDial", "DispositionAPIV2"...).
  std::string api;
  ozonetel_outcome outcome = ozonetel_outcome::unavailable;
  /// 0 when no HTTP answer arrived.
  int32_t http_status = 0;
  /// `status` as CloudAgent wrote it.
  std::string status;
  /// CloudAgent's text (message / Message / details) or our explanation.
  std::string message;
  /// The answer body with secrets removed (safe to log and to show).
  std::string raw;
  /// AgentManualDial: the new call's UCID.
  std::string ucid;
  /// changeAgentState: the agent's state per CloudAgent.
  std::string agent_state;
  /// HTTP attempts spent (retries included).
  int32_t attempts = 0;

  /// CloudAgent did it, or it was already done.
  bool done() const {
    return outcome == ozonetel_outcome::ok
           || outcome == ozonetel_outcome::accepted
           || outcome == ozonetel_outcome::already_done;
  }

  /// Failed for reasons that say nothing about the request: the same request
  /// may succeed later.
  bool transient() const {
    switch (outcome) {
      case ozonetel_outcome::server_error:
      case ozonetel_outcome::network_error:
      case ozonetel_outcome::malformed:
      case ozonetel_outcome::rate_limited:
      case ozonetel_outcome::unauthorized:
      case ozonetel_outcome::unavailable:
        return true;
      default:
        return false;
    }
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ozonetel_answer& x) {
  return f(caf::meta::type_name("ozonetel_answer"), x.api, x.outcome,
           x.http_status, x.status, x.message, x.raw, x.ucid, x.agent_state,
           x.attempts);
}

/// DispositionAPIV2 `Set` for one call.
struct ozonetel_disposition {
  std::string ucid;
  /// The agent whose seat the disposition releases.
  std::string agent_id;
  /// The campaign's disposition name (already mapped from ours).
  std::string disposition;
  std::string comments;
  /// "YYYY-MM-DD HH:MM:SS", optional.
  std::string callback_time;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ozonetel_disposition& x) {
  return f(caf::meta::type_name("ozonetel_disposition"), x.ucid, x.agent_id,
           x.disposition, x.comments, x.callback_time);
}

/// One finished HTTP attempt, from a session worker back to the session.
struct ozonetel_attempt {
  /// The session's request id; 0 = a token fetch.
  uint64_t request_id = 0;
  ozonetel_answer answer;
  /// The request never reached CloudAgent: even a dial may be retried.
  bool connect_failed = false;
  /// Token fetches only. Secret: deliberately left out of inspect() so that
  /// no printer or serializer can ever show it; it never leaves the process.
  std::string token;
  /// Unix seconds from the JWT `exp`, 0 when absent.
  int64_t token_expires_at = 0;
  /// JWT `exp` - `iat`, 0 when either is absent.
  int64_t token_lifetime_seconds = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ozonetel_attempt& x) {
  return f(caf::meta::type_name("ozonetel_attempt"), x.request_id, x.answer,
           x.connect_failed, x.token_expires_at, x.token_lifetime_seconds);
}

/// The session's token and queue counters.
struct ozonetel_session_status {
  /// Tokens generated in the last rolling hour (CloudAgent allows 10).
  int64_t generations_last_hour = 0;
  int64_t generations_total = 0;
  bool has_token = false;
  /// Unix seconds; 0 without a token.
  int64_t token_expires_at = 0;
  /// A generateToken call is under way.
  bool fetching = false;
  int64_t waiting_for_token = 0;
  int64_t in_flight = 0;
  int64_t queued = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        ozonetel_session_status& x) {
  return f(caf::meta::type_name("ozonetel_session_status"),
           x.generations_last_hour, x.generations_total, x.has_token,
           x.token_expires_at, x.fetching, x.waiting_for_token, x.in_flight,
           x.queued);
}

/// POST /api/ozonetel/dial.
struct ozonetel_dial_request {
  std::string phone_number;
  caf::optional<int64_t> customer_id;
  /// The agent who dials; empty = the default agent (ozonetel.agent_id).
  std::string agent_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        ozonetel_dial_request& x) {
  return f(caf::meta::type_name("ozonetel_dial_request"), x.phone_number,
           x.customer_id, x.agent_id);
}

/// What the agent's browser saw of a SIP call.
struct browser_call_event {
  /// The UCID the browser names (from the URL); empty when it has none.
  std::string ucid;
  /// The SIP call's X-UCID header, when present.
  std::string x_ucid;
  browser_event event = browser_event::ringing;
  /// The remote party as SIP presented it (inbound calls).
  std::string caller;
  /// When it happened (Unix micros); 0 = when received.
  unix_micros at = 0;
  /// The agent whose browser reports; empty = the default agent.
  std::string agent_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, browser_call_event& x) {
  return f(caf::meta::type_name("browser_call_event"), x.ucid, x.x_ucid,
           x.event, x.caller, x.at, x.agent_id);
}

/// POST /api/ozonetel/dispose.
struct ozonetel_dispose_request {
  std::string ucid;
  /// One of ours (APPOINTMENT_BOOKED, NO_ANSWER, ...) or a campaign name.
  std::string disposition;
  std::string notes;
  /// "YYYY-MM-DD HH:MM:SS" (CALLBACK_REQUESTED), optional.
  std::string callback_time;
  /// The agent whose seat it releases; empty = the call's agent, else the
  /// default agent.
  std::string agent_id;
  /// The seed's fallbacks for a call switchboard knows nothing better of.
  std::string caller_phone;
  /// "inbound" | "outbound" | empty.
  std::string direction;
  /// -1 = not given.
  int64_t duration_seconds = -1;
  /// The CRM's reference for the entry (the seed's leadId).
  std::string lead_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        ozonetel_dispose_request& x) {
  return f(caf::meta::type_name("ozonetel_dispose_request"), x.ucid,
           x.disposition, x.notes, x.callback_time, x.agent_id, x.caller_phone,
           x.direction, x.duration_seconds, x.lead_id);
}

/// CloudAgent's call-details callback, already stripped of its Apikey.
struct ozonetel_call_details {
  /// monitorUCID (falls back to UCID): the call's identity.
  std::string ucid;
  std::string caller_id;
  std::string did;
  std::string campaign;
  std::string agent_id;
  /// "YYYY-MM-DD HH:MM:SS" in the account's time zone, as sent.
  std::string start_time;
  std::string end_time;
  /// Duration ("HH:MM:SS") in seconds: the whole call.
  int64_t duration_seconds = 0;
  /// CallDuration in seconds: the customer connected to the agent.
  int64_t call_duration_seconds = 0;
  /// "Answered", "NotAnswered", ...
  std::string status;
  std::string dial_status;
  /// The disposition set in CloudAgent, if any.
  std::string disposition;
  std::string hangup_by;
  /// "InBound", "Manual", "Progressive", "Preview", "Predictive".
  std::string type;
  /// AudioFile: the call's recording (URL or file name).
  std::string audio_file;
  /// StartTime / EndTime read in ozonetel.timezone (Unix micros; 0 when
  /// absent or unreadable).
  unix_micros started_at = 0;
  unix_micros ended_at = 0;
  /// `type` says the customer called in (anything else is a dialler mode).
  bool inbound = false;
  /// `status` says the call was answered.
  bool answered = false;
  /// The payload minus its secrets.
  std::string sanitized_json;
  /// When switchboard received it (Unix micros).
  unix_micros received_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        ozonetel_call_details& x) {
  return f(caf::meta::type_name("ozonetel_call_details"), x.ucid, x.caller_id,
           x.did, x.campaign, x.agent_id, x.start_time, x.end_time,
           x.duration_seconds, x.call_duration_seconds, x.status, x.dial_status,
           x.disposition, x.hangup_by, x.type, x.audio_file, x.started_at,
           x.ended_at, x.inbound, x.answered, x.sanitized_json, x.received_at);
}

/// How ucid_calls answered a request from the HTTP edge.
struct ucid_reply {
  ucid_reply_code code = ucid_reply_code::ok;
  std::string message;
  std::string ucid;
  /// The call's state after the request.
  std::string state;
  /// The campaign disposition sent, when one was.
  std::string disposition;
  /// CloudAgent's answer, when one was involved.
  ozonetel_answer cloudagent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ucid_reply& x) {
  return f(caf::meta::type_name("ucid_reply"), x.code, x.message, x.ucid,
           x.state, x.disposition, x.cloudagent);
}

/// A call of the agent's awaiting its disposition.
struct agent_waiting_call {
  std::string ucid;
  std::string phone_number;
  unix_micros ended_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_waiting_call& x) {
  return f(caf::meta::type_name("agent_waiting_call"), x.ucid, x.phone_number,
           x.ended_at);
}

/// GET /api/ozonetel/agents/{id}/state: CloudAgent's latest word (from its
/// agent events) plus switchboard's own view.
struct ozonetel_agent_view {
  std::string agent_id;
  /// "unknown" until CloudAgent's first agent event; then "ready", "busy",
  /// "acw", "paused", "logged_out" or CloudAgent's own text.
  std::string cloudagent_state = "unknown";
  /// When CloudAgent said so (Unix micros; 0 = never).
  unix_micros cloudagent_state_at = 0;
  /// The call the agent is on or wrapping up, if any.
  caf::optional<live_call> current_call;
  /// The dial still waiting for its bridge: number and since when.
  std::string pending_dial_number;
  unix_micros pending_dial_since = 0;
  /// UCID of that dial (empty while CloudAgent has not answered it).
  std::string pending_outbound;
  /// Calls ended but not yet disposed (the seat is in after-call work).
  std::vector<agent_waiting_call> awaiting_disposition;
  /// CloudAgent says ready and switchboard knows no call holding the seat.
  bool ready = false;
  /// A known agent (configured, stored or the default).
  bool known = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ozonetel_agent_view& x) {
  return f(caf::meta::type_name("ozonetel_agent_view"), x.agent_id,
           x.cloudagent_state, x.cloudagent_state_at, x.current_call,
           x.pending_dial_number, x.pending_dial_since, x.pending_outbound,
           x.awaiting_disposition, x.ready, x.known);
}

} // namespace sb
