#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include <caf/actor_control_block.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "adapters/ami/client.hpp"
#include "adapters/metrics/registry.hpp"
#include "config/config.hpp"
#include "messages/ami_connection_actor.hpp"

namespace sb {

struct ami_connection_state {
  static inline const char* name = "ami_connection";

  metrics::actor_metrics* metrics = &metrics::global().actor(name);
  /// Holds the secret: never logged, never sent.
  pbx_config pbx;
  ami_parser_actor parser;
  call_tracker_actor tracker;
  /// Weak: the supervisor holds this actor's handle, and a cycle of strong
  /// references would keep both alive forever.
  caf::weak_actor_ptr supervisor;
  /// The session, read on the shared I/O pool. Destroyed (closed, no
  /// callback after) when the actor exits.
  std::unique_ptr<ami::client> client;
  bool logged_in = false;
  /// Originates sent and not yet answered (at most
  /// pbx.max_pending_originates), by request id.
  std::unordered_map<std::string, caf::typed_response_promise<originate_reply>>
      originates;
};

ami_connection_actor::behavior_type ami_connection(
    ami_connection_actor::stateful_pointer<ami_connection_state> self,
    pbx_config pbx, ami_parser_actor parser, call_tracker_actor tracker,
    const ami_supervisor_actor& supervisor, std::shared_ptr<flow_gate> gate);

/// Spawns the connection actor for `pbx`. Frames go to `parser`; state
/// changes to `supervisor`; `tracker` hears `connection_lost_atom` when a
/// logged-in session drops. `supervisor` and `tracker` may be invalid.
/// `gate` (shared with `parser`) bounds the bytes read and not yet applied
/// by the tracker; null = no bound.
ami_connection_actor
spawn_ami_connection(caf::actor_system& sys, pbx_config pbx,
                     ami_parser_actor parser, call_tracker_actor tracker,
                     ami_supervisor_actor supervisor,
                     std::shared_ptr<flow_gate> gate = nullptr);

/// The text an ami_connection put into its exit reason (or a rendering of
/// any other reason).
std::string exit_reason_text(caf::actor_system& sys, const caf::error& reason);

} // namespace sb
