#include "actors/webhooks.hpp"

#include <chrono>
#include <cmath>
#include <utility>

namespace sb {

webhooks_actor::behavior_type
webhooks(webhooks_actor::stateful_pointer<webhooks_state> self,
         const std::string& db_url, std::vector<webhook_config> endpoints,
         double poll_seconds, const shared_event_signal& signal) {
  std::chrono::milliseconds poll{
      static_cast<int64_t>(std::llround(poll_seconds * 1000))};
  for (auto& endpoint : endpoints)
    self->state.senders.push_back(std::make_unique<webhook::sender>(
        db_url, std::move(endpoint), signal, poll));
  return {
      [self](status_atom) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        std::vector<webhook_status> out;
        out.reserve(self->state.senders.size());
        for (const auto& s : self->state.senders)
          out.push_back(s->status());
        return out;
      },
  };
}

} // namespace sb
