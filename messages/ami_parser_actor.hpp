#pragma once

#include <string>

#include <caf/actor_system.hpp>
#include <caf/typed_actor.hpp>

#include "messages/call_tracker_actor.hpp"
#include "messages/type_ids.hpp"

namespace sb {

/// Turns the raw frames of one PBX into ami_event batches for the call
/// tracker; malformed frames are counted and dropped, never fatal.
using ami_parser_actor = caf::typed_actor<
    // Frames from one read of the PBX socket, in arrival order.
    caf::reacts_to<ami_frame_batch>,
    // The PBX connection dropped: passed on to the tracker after the frames
    // that came before it, so the tracker sees them in order.
    caf::reacts_to<connection_lost_atom, std::string>,
    // A stop: answered once every frame received before it went on to the
    // tracker.
    caf::replies_to<flush_atom>::with<bool>,
    // The call tracker was restarted: events go to this one (a
    // call_tracker_actor).
    caf::reacts_to<rewire_atom, caf::actor>>;

} // namespace sb
