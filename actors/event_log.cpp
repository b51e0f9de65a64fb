#include "actors/event_log.hpp"

#include <chrono>
#include <utility>
#include <vector>

namespace sb {

event_log_actor::behavior_type
event_log(event_log_actor::stateful_pointer<event_log_state> self,
          std::string db_url, events_config cfg, shared_event_signal signal) {
  self->state.appender = std::make_unique<store::event_appender>(
      std::move(db_url), cfg, std::move(signal));
  return {
      [self](append_atom, event_record& e) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        self->state.appender->offer(std::move(e));
      },
      [self](append_atom, std::vector<event_record>& events) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        for (auto& e : events)
          self->state.appender->offer(std::move(e));
      },
      [self](flush_atom, int64_t budget_ms) -> int64_t {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        return self->state.appender->flush(
            std::chrono::milliseconds{budget_ms});
      },
  };
}

} // namespace sb
