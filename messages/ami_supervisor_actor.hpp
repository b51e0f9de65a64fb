#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/typed_actor.hpp>

#include "messages/type_ids.hpp"

namespace sb {

/// Keeps one ami_connection per configured PBX alive: restarts a failed one
/// with exponential backoff and jitter, and knows each connection's state.
using ami_supervisor_actor = caf::typed_actor<
    // A connection reports its state: connecting, logged_in or streaming
    // (its first events after the login arrived).
    caf::reacts_to<connected_atom, std::string /*pbx*/, connection_state>,
    // The backoff for a PBX is over: start its connection again (the number
    // is the restart generation, so a stale timer is ignored).
    caf::reacts_to<restart_atom, std::string /*pbx*/, uint64_t>,
    // The state of every configured connection, in configuration order.
    caf::replies_to<status_atom>::with<std::vector<connection_status>>,
    // Click-to-call: the Originate goes to the named PBX's connection (the
    // only one when the request names none); answered as it answers, or
    // unknown_pbx / not_connected.
    caf::replies_to<originate_atom, originate_request>::with<originate_reply>,
    // A stop: close every AMI socket, then flush every parser into the
    // tracker; answered when nothing more can arrive from any PBX.
    caf::replies_to<flush_atom>::with<bool>,
    // The call tracker was restarted: every parser and connection sends to
    // this one (a call_tracker_actor), and each connection logs in again so
    // that its re-sync tells the new tracker which calls are up.
    caf::reacts_to<rewire_atom, caf::actor>>;

} // namespace sb
