#pragma once

// The root of the pipeline's supervision tree. It monitors every pipeline
// singleton (comms-log writer, customer matcher, call tracker, AMI
// supervisor, Ozonetel call state). One that dies of anything but a stop is
// spawned anew and handed to whoever sends to it (the child's `replaced`
// callback rewires them), and counted in
// switchboard_actor_restarts_total{actor}. What was in the dead actor's
// mailbox is gone; the writer's spool, the matcher's held-calls spool and
// the AMI re-sync after a fresh login cover the rest. A child that dies more
// than `max_restarts` times within `window` is a defect restarting cannot
// fix: the root calls `give_up` (the server then stops and exits with 1, and
// systemd starts it again).

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/typed_actor.hpp>

#include "messages/type_ids.hpp"

namespace sb {

struct supervised_child {
  /// The actor's name, as in switchboard_actor_restarts_total{actor}.
  std::string name;
  /// The running actor.
  caf::actor handle;
  /// Spawns it anew, with the current handles of what it sends to.
  std::function<caf::actor()> respawn;
  /// Hands the new actor to everything that sends to it.
  std::function<void(const caf::actor&)> replaced;
};

struct root_options {
  size_t max_restarts = 5;
  std::chrono::seconds window{60};
  /// Called once, on the root's thread, with the reason for giving up.
  std::function<void(const std::string&)> give_up;
};

/// Stops supervising (a stop is under way: exits are expected now) and
/// answers once it no longer restarts anything.
using root_supervisor_actor
    = caf::typed_actor<caf::replies_to<flush_atom>::with<bool>>;

root_supervisor_actor spawn_root_supervisor(caf::actor_system& sys,
                                            std::vector<supervised_child> children,
                                            root_options options);

} // namespace sb
