#pragma once

// webhooks: the actor that owns one webhook::sender per `[webhook.<name>]`
// (adapters/webhook/sender.hpp). Each sender is a thread of its own with its
// own database session that reads the event log and POSTs; the actor only
// answers for them, so nothing on the pipeline's path ever waits for a
// receiver. Its exit stops the senders (a POST in flight is aborted and
// sent again after the restart).
//
//   auto hooks = sys.spawn(sb::webhooks, cfg.db.url, cfg.webhooks,
//                          cfg.events.poll_seconds, signal);

#include <memory>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "adapters/metrics/registry.hpp"
#include "adapters/webhook/sender.hpp"
#include "config/config.hpp"
#include "core/event_signal.hpp"
#include "messages/webhooks_actor.hpp"

namespace sb {

struct webhooks_state {
  static inline const char* name = "webhooks";

  metrics::actor_metrics* metrics = &metrics::global().actor(name);
  std::vector<std::unique_ptr<webhook::sender>> senders;
};

webhooks_actor::behavior_type
webhooks(webhooks_actor::stateful_pointer<webhooks_state> self,
         const std::string& db_url, std::vector<webhook_config> endpoints,
         double poll_seconds, const shared_event_signal& signal);

} // namespace sb
