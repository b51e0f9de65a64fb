#pragma once

#include <cstdint>
#include <string>

#include <caf/typed_actor.hpp>

#include "messages/type_ids.hpp"

namespace sb {

/// Holds the CloudAgent API token and makes every REST call: one token shared
/// by all requests, renewed near its expiry and once after a 401, never more
/// than 10 generations per rolling hour; 5xx and network errors are retried
/// with backoff. HTTP runs on worker threads, never on the actor's own.
using ozonetel_session_actor = caf::typed_actor<
  // Places a manual dial from the configured agent to this customer number;
  // the answer carries the new call's UCID.
  caf::replies_to<dial_atom, std::string>::with<ozonetel_answer>,
  // Places a manual dial from this agent (agent id, customer number).
  caf::replies_to<dial_atom, std::string, std::string>::with<ozonetel_answer>,
  // Sets a call's disposition (action Set, autoRelease: ends after-call work).
  caf::replies_to<dispose_atom, ozonetel_disposition>::with<ozonetel_answer>,
  // Changes the agent's state: "Ready" | "Pause", with a pause reason.
  caf::replies_to<agent_state_atom, std::string, std::string>::with<
    ozonetel_answer>,
  // Changes this agent's state (agent id, "Ready" | "Pause", pause reason).
  caf::replies_to<agent_state_atom, std::string, std::string,
                  std::string>::with<ozonetel_answer>,
  // Logs the agent in at CloudAgent (AgentAuthenticationV2, its password
  // and extension).
  caf::replies_to<login_atom, ozonetel_agent>::with<ozonetel_answer>,
  // Logs the agent out (AgentAuthenticationV2).
  caf::replies_to<logout_atom, ozonetel_agent>::with<ozonetel_answer>,
  // Subscribes to CloudAgent's events (Subscribe API): call events URL,
  // agent events URL.
  caf::replies_to<subscribe_atom, std::string, std::string>::with<
    ozonetel_answer>,
  // Token and queue counters.
  caf::replies_to<status_atom>::with<ozonetel_session_status>,
  // Internal: one HTTP attempt finished on a worker.
  caf::reacts_to<ozonetel_attempt>,
  // Internal: a request's backoff is over; send it again.
  caf::reacts_to<retry_atom, uint64_t>,
  // Internal: a failed token fetch's backoff is over; fetch again.
  caf::reacts_to<token_atom>>;

} // namespace sb
