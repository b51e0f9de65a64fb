#pragma once

// event_log: the actor in front of the durable event log. Every actor that
// learns an event sends `append_atom, event_record`; the handler only queues
// it for the store's appender thread (adapters/store/event_appender.hpp), so
// a slow or dead database never slows a sender.
//
//   auto signal = std::make_shared<sb::event_signal>();
//   auto log = sys.spawn(sb::event_log, cfg.db.url, cfg.events, signal);
//
// `signal` is rung after each commit (the live stream waits on it).

#include <memory>
#include <string>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "adapters/metrics/registry.hpp"
#include "adapters/store/event_appender.hpp"
#include "config/config.hpp"
#include "core/event_signal.hpp"
#include "messages/event_log_actor.hpp"

namespace sb {

struct event_log_state {
  static inline const char* name = "event_log";

  metrics::actor_metrics* metrics = &metrics::global().actor(name);
  std::unique_ptr<store::event_appender> appender;
};

event_log_actor::behavior_type
event_log(event_log_actor::stateful_pointer<event_log_state> self,
          std::string db_url, events_config cfg, shared_event_signal signal);

} // namespace sb
