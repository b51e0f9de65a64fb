#pragma once

// Every type and atom that crosses an actor boundary, registered in one
// place. Add new message types here (at the end of their section: IDs are
// positional) and load them with `cfg.add_message_types<caf::id_block::switchboard>()`.

#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/type_id.hpp>

#include "messages/ami_event.hpp"
#include "messages/calls.hpp"
#include "messages/comms.hpp"
#include "messages/connection.hpp"
#include "messages/drain.hpp"
#include "messages/events.hpp"
#include "messages/originate.hpp"
#include "messages/ozonetel.hpp"
#include "messages/ozonetel_agents.hpp"
#include "messages/webhooks.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(switchboard, caf::first_custom_type_id)

  // -- AMI ------------------------------------------------------------------
  CAF_ADD_TYPE_ID(switchboard, (sb::ami_field_span))
  CAF_ADD_TYPE_ID(switchboard, (sb::ami_event))
  CAF_ADD_TYPE_ID(switchboard, (sb::ami_frame_batch))
  CAF_ADD_TYPE_ID(switchboard, (sb::ami_event_batch))
  CAF_ADD_TYPE_ID(switchboard, (sb::connection_status))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::connection_status>))
  CAF_ADD_TYPE_ID(switchboard, (sb::connection_state))

  // -- calls ----------------------------------------------------------------
  CAF_ADD_TYPE_ID(switchboard, (sb::completed_call))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::completed_call>))
  CAF_ADD_TYPE_ID(switchboard, (sb::matched_call))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::matched_call>))
  CAF_ADD_TYPE_ID(switchboard, (sb::live_call))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::live_call>))
  CAF_ADD_TYPE_ID(switchboard, (sb::drain_report))

  // -- CRM store ------------------------------------------------------------
  CAF_ADD_TYPE_ID(switchboard, (sb::customer))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::customer>))
  CAF_ADD_TYPE_ID(switchboard, (sb::comms_entry))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::comms_entry>))
  CAF_ADD_TYPE_ID(switchboard, (sb::comms_query))
  CAF_ADD_TYPE_ID(switchboard, (sb::customer_patch))
  CAF_ADD_TYPE_ID(switchboard, (sb::customer_change))

  // -- Ozonetel (add types here) --------------------------------------------
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_answer))
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_disposition))
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_attempt))
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_session_status))
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_dial_request))
  CAF_ADD_TYPE_ID(switchboard, (sb::browser_call_event))
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_dispose_request))
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_call_details))
  CAF_ADD_TYPE_ID(switchboard, (sb::ucid_reply))
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_agent_view))
  CAF_ADD_TYPE_ID(switchboard, (sb::agent_waiting_call))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::agent_waiting_call>))
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_agent))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::ozonetel_agent>))
  CAF_ADD_TYPE_ID(switchboard, (sb::agent_change_request))
  CAF_ADD_TYPE_ID(switchboard, (sb::agent_change_reply))
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_call_event))
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_agent_event))
  CAF_ADD_TYPE_ID(switchboard, (sb::ozonetel_health))

  // -- event log --------------------------------------------------------------
  CAF_ADD_TYPE_ID(switchboard, (sb::event_record))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::event_record>))
  CAF_ADD_TYPE_ID(switchboard, (sb::live_notice))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::live_notice>))
  CAF_ADD_TYPE_ID(switchboard, (sb::webhook_status))
  CAF_ADD_TYPE_ID(switchboard, (std::vector<sb::webhook_status>))

  // -- click-to-call on a PBX -------------------------------------------------
  CAF_ADD_TYPE_ID(switchboard, (sb::originate_request))
  CAF_ADD_TYPE_ID(switchboard, (sb::originate_reply))
  CAF_ADD_TYPE_ID(switchboard, (sb::originate_outcome))

  // -- atoms (at most 10 characters in CAF 0.17) ----------------------------
  CAF_ADD_ATOM(switchboard, sb, active_atom, "active")
  CAF_ADD_ATOM(switchboard, sb, connection_lost_atom, "connlost")
  CAF_ADD_ATOM(switchboard, sb, connected_atom, "connected")
  CAF_ADD_ATOM(switchboard, sb, status_atom, "status")
  CAF_ADD_ATOM(switchboard, sb, sweep_atom, "sweep")
  CAF_ADD_ATOM(switchboard, sb, match_atom, "match")
  CAF_ADD_ATOM(switchboard, sb, reload_atom, "reload")
  CAF_ADD_ATOM(switchboard, sb, write_atom, "write")
  CAF_ADD_ATOM(switchboard, sb, query_atom, "query")
  CAF_ADD_ATOM(switchboard, sb, customer_atom, "customer")
  CAF_ADD_ATOM(switchboard, sb, health_atom, "health")
  CAF_ADD_ATOM(switchboard, sb, retry_atom, "retry")
  CAF_ADD_ATOM(switchboard, sb, restart_atom, "restart")
  CAF_ADD_ATOM(switchboard, sb, dial_atom, "dial")
  CAF_ADD_ATOM(switchboard, sb, dispose_atom, "dispose")
  CAF_ADD_ATOM(switchboard, sb, callback_atom, "callback")
  CAF_ADD_ATOM(switchboard, sb, agent_state_atom, "agentstate")
  CAF_ADD_ATOM(switchboard, sb, token_atom, "token")
  CAF_ADD_ATOM(switchboard, sb, browser_atom, "browser")
  CAF_ADD_ATOM(switchboard, sb, expire_atom, "expire")
  CAF_ADD_ATOM(switchboard, sb, acw_atom, "acw")
  CAF_ADD_ATOM(switchboard, sb, flush_atom, "flush")
  CAF_ADD_ATOM(switchboard, sb, rewire_atom, "rewire")
  CAF_ADD_ATOM(switchboard, sb, credit_atom, "credit")
  CAF_ADD_ATOM(switchboard, sb, login_atom, "login")
  CAF_ADD_ATOM(switchboard, sb, logout_atom, "logout")
  CAF_ADD_ATOM(switchboard, sb, force_ready_atom, "forceready")
  CAF_ADD_ATOM(switchboard, sb, agents_atom, "agents")
  CAF_ADD_ATOM(switchboard, sb, call_event_atom, "callevent")
  CAF_ADD_ATOM(switchboard, sb, agent_event_atom, "agentevent")
  CAF_ADD_ATOM(switchboard, sb, subscribe_atom, "subscribe")
  CAF_ADD_ATOM(switchboard, sb, delete_atom, "delete")
  CAF_ADD_ATOM(switchboard, sb, append_atom, "append")
  CAF_ADD_ATOM(switchboard, sb, events_atom, "events")
  CAF_ADD_ATOM(switchboard, sb, originate_atom, "originate")

  // -- CDR catch-up ---------------------------------------------------------
  CAF_ADD_TYPE_ID(switchboard, (sb::cdr_gap))
  CAF_ADD_ATOM(switchboard, sb, cdr_gap_atom, "cdrgap")

CAF_END_TYPE_ID_BLOCK(switchboard)
