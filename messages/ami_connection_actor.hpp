#pragma once

#include <string>

#include <caf/actor_system.hpp>
#include <caf/typed_actor.hpp>

#include "messages/ami_parser_actor.hpp"
#include "messages/ami_supervisor_actor.hpp"
#include "messages/call_tracker_actor.hpp"
#include "messages/type_ids.hpp"

namespace sb {

/// One PBX's AMI session. Its socket is read on the shared AMI I/O pool,
/// which hands frames straight to the parser; the actor itself only hears about state
/// changes. On any failure it quits with an error whose context is one
/// string naming the PBX and the cause ("pbx main: authentication failed:
/// ..."); restarting is the supervisor's job.
using ami_connection_actor = caf::typed_actor<
    // From the I/O pool: the Login was accepted.
    caf::reacts_to<connected_atom>,
    // From the I/O pool: the first events of this session arrived.
    caf::reacts_to<connected_atom, connection_state>,
    // From the I/O pool: the session ended; the text says why.
    caf::reacts_to<connection_lost_atom, std::string>,
    // Click-to-call: send an Originate; answered when the PBX answered the
    // action (queued or refused), or why it was not sent or not answered.
    caf::replies_to<originate_atom, originate_request>::with<originate_reply>,
    // Internal (the I/O pool, the connection's own deadline): the outcome
    // of the Originate with this request id.
    caf::reacts_to<originate_atom, std::string, originate_reply>>;

} // namespace sb
