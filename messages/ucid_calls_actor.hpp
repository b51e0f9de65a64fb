#pragma once

#include <string>
#include <vector>

#include <caf/typed_actor.hpp>

#include "messages/type_ids.hpp"

namespace sb {

/// Follows every Ozonetel call by its UCID from dial / ring to end and
/// disposition, makes sure each call gets exactly one disposition (the
/// default one when the agent sets none in time) and exactly one comms-log
/// entry, and keeps the outbound-pending flag bound to one dial.
using ucid_calls_actor = caf::typed_actor<
  // Dials a customer from the configured agent; replies with the UCID.
  caf::replies_to<dial_atom, ozonetel_dial_request>::with<ucid_reply>,
  // The agent's browser reports a SIP call event (ringing / answered /
  // ended / failed), naming the call by UCID or by its X-UCID.
  caf::replies_to<browser_atom, browser_call_event>::with<ucid_reply>,
  // The agent sets a call's disposition.
  caf::replies_to<dispose_atom, ozonetel_dispose_request>::with<ucid_reply>,
  // CloudAgent's call-details callback (Apikey already removed).
  caf::replies_to<callback_atom, ozonetel_call_details>::with<ucid_reply>,
  // The default agent's state: CloudAgent's latest word from its events
  // plus ours (current call, pending dial, calls awaiting a disposition).
  caf::replies_to<agent_state_atom>::with<ozonetel_agent_view>,
  // The same for this agent.
  caf::replies_to<agent_state_atom, std::string>::with<ozonetel_agent_view>,
  // Sets the default agent "Ready" | "Pause" (with a pause reason); Ready is
  // refused while the agent is on a call or a call awaits its disposition.
  caf::replies_to<agent_state_atom, std::string, std::string>::with<
    ucid_reply>,
  // The same for this agent (agent id, state, pause reason).
  caf::replies_to<agent_state_atom, std::string, std::string,
                  std::string>::with<ucid_reply>,
  // Logs the agent in / out at CloudAgent (AgentAuthenticationV2).
  caf::replies_to<login_atom, std::string>::with<ucid_reply>,
  caf::replies_to<logout_atom, std::string>::with<ucid_reply>,
  // Force Ready: sends the agent's pending dispositions (or the default
  // one), then logs the agent out and in, which clears after-call work.
  caf::replies_to<force_ready_atom, std::string>::with<ucid_reply>,
  // Every agent (configured and stored), without secrets.
  caf::replies_to<agents_atom>::with<std::vector<ozonetel_agent>>,
  // Adds, changes or removes an agent, or issues / revokes its token.
  caf::replies_to<agents_atom, agent_change_request>::with<agent_change_reply>,
  // CloudAgent's call event (Subscribe API).
  caf::replies_to<call_event_atom, ozonetel_call_event>::with<ucid_reply>,
  // CloudAgent's agent event (Subscribe API).
  caf::replies_to<agent_event_atom, ozonetel_agent_event>::with<ucid_reply>,
  // The CloudAgent session, subscription and durable state, for /readyz.
  caf::replies_to<health_atom>::with<ozonetel_health>,
  // Internal: the session's answer to the Subscribe call.
  caf::reacts_to<subscribe_atom, ozonetel_answer>,
  // Internal: a failed Subscribe call's backoff (generation) is over.
  caf::reacts_to<subscribe_atom, uint64_t>,
  // Calls in progress now (for GET /api/calls/active).
  caf::replies_to<active_atom>::with<std::vector<live_call>>,
  // Internal: the outbound-pending flag of this dial (UCID, generation)
  // reached its lifetime.
  caf::reacts_to<expire_atom, std::string, uint64_t>,
  // Internal: after-call work of this call (UCID, generation) timed out:
  // send the default disposition.
  caf::reacts_to<acw_atom, std::string, uint64_t>,
  // Internal: send this call's disposition again (CloudAgent was down).
  caf::reacts_to<retry_atom, std::string>,
  // Internal: respawn the session after it died.
  caf::reacts_to<restart_atom>,
  // Internal: forget long-finished calls; finalize calls that never ended.
  caf::reacts_to<sweep_atom>,
  // The customer matcher was restarted: call entries go to this one (a
  // customer_matcher_actor; the root supervisor sends it).
  caf::reacts_to<rewire_atom, caf::actor>,
  // Where ozonetel.* events go (an event_log_actor).
  caf::reacts_to<events_atom, caf::actor>>;

} // namespace sb
