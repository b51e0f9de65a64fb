#include "actors/ami_supervisor.hpp"
#include "actors/ami_connection.hpp"
#include "actors/ami_parser.hpp"

#include <algorithm>
#include <utility>

#include <caf/send.hpp>

#include "adapters/ami/client.hpp"
#include "core/log.hpp"
#include "core/time.hpp"

namespace sb {

namespace {

void set_state(supervised_connection& c, const char* state) {
  c.status.state = state;
  c.status.since = now_micros();
  c.state_connecting->set(c.status.state == "connecting" ? 1 : 0);
  c.state_logged_in->set(c.status.state == "logged_in" ? 1 : 0);
  c.state_backing_off->set(c.status.state == "backing_off" ? 1 : 0);
}

void spawn_connection(
    ami_supervisor_actor::stateful_pointer<ami_supervisor_state> self,
    supervised_connection& c) {
  ++c.generation;
  c.connection = spawn_ami_connection(
      self->system(), c.pbx, c.parser, self->state.tracker,
      caf::actor_cast<ami_supervisor_actor>(self));
  self->monitor(c.connection);
  set_state(c, "connecting");
}

} // namespace

supervised_connection* ami_supervisor_state::find(const std::string& pbx) {
  for (auto& c : connections)
    if (c.pbx.name == pbx)
      return &c;
  return nullptr;
}

ami_supervisor_state::~ami_supervisor_state() {
  for (auto& c : connections) {
    if (c.connection)
      caf::anon_send_exit(c.connection, caf::exit_reason::user_shutdown);
    if (c.parser)
      caf::anon_send_exit(c.parser, caf::exit_reason::user_shutdown);
  }
}

ami_supervisor_actor::behavior_type ami_supervisor(
    ami_supervisor_actor::stateful_pointer<ami_supervisor_state> self,
    std::vector<pbx_config> pbxes, call_tracker_actor tracker,
    backoff_policy backoff) {
  auto& st = self->state;
  st.tracker = std::move(tracker);
  st.backoff = backoff;
  auto& reg = metrics::global();
  st.connections.reserve(pbxes.size());
  for (auto& pbx : pbxes) {
    auto& c = st.connections.emplace_back();
    c.pbx = std::move(pbx);
    c.status.pbx = c.pbx.name;
    c.next_delay = st.backoff.initial;
    c.reconnects
        = &reg.get_counter("switchboard_ami_reconnects_total",
                           "Restarts of an AMI connection after a failure.",
                           {{"pbx", c.pbx.name}});
    auto state_gauge = [&](const char* state) {
      return &reg.get_gauge(
          "switchboard_ami_connection_state",
          "1 for the current state of each AMI connection, else 0.",
          {{"pbx", c.pbx.name}, {"state", state}});
    };
    c.state_connecting = state_gauge("connecting");
    c.state_logged_in = state_gauge("logged_in");
    c.state_backing_off = state_gauge("backing_off");
    c.parser = spawn_ami_parser(self->system(), c.pbx.name, st.tracker);
  }
  for (auto& c : st.connections)
    spawn_connection(self, c);
  self->set_down_handler([self](caf::down_msg& down) {
    metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
    auto& st = self->state;
    auto i = std::find_if(st.connections.begin(), st.connections.end(),
                          [&](const supervised_connection& c) {
                            return c.connection
                                   && c.connection.address() == down.source;
                          });
    if (i == st.connections.end())
      return;
    auto& c = *i;
    c.connection = nullptr;
    auto now = std::chrono::steady_clock::now();
    if (c.status.state == "logged_in"
        && now - c.logged_in_at >= st.backoff.healthy)
      c.next_delay = st.backoff.initial;
    auto delay = c.next_delay;
    c.next_delay = std::min(
        std::chrono::duration_cast<std::chrono::milliseconds>(c.next_delay * 2),
        st.backoff.max);
    std::uniform_real_distribution<double> spread{1.0 - st.backoff.jitter, 1.0};
    auto wait = std::chrono::milliseconds{static_cast<int64_t>(
        static_cast<double>(delay.count()) * spread(st.rng))};
    c.status.last_error = exit_reason_text(self->system(), down.reason);
    set_state(c, "backing_off");
    log::warning(
        ami_supervisor_state::name, "connection failed, retrying",
        {{"pbx", c.pbx.name},
         {"error", c.status.last_error},
         {"retry_in_s",
          ami::format_seconds(static_cast<double>(wait.count()) / 1000.0)}});
    self->delayed_send(self, wait, restart_atom::value, c.pbx.name,
                       c.generation);
  });
  return {
      [self](connected_atom, std::string& pbx, std::string& state) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        auto* c = self->state.find(pbx);
        // Reports from a connection that was already replaced are stale.
        if (c == nullptr || !c->connection
            || caf::actor_cast<caf::actor_addr>(self->current_sender())
                   != c->connection.address())
          return;
        if (state == "logged_in") {
          c->logged_in_at = std::chrono::steady_clock::now();
          set_state(*c, "logged_in");
        } else if (state == "connecting") {
          set_state(*c, "connecting");
        }
      },
      [self](restart_atom, std::string& pbx, uint64_t generation) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        auto* c = self->state.find(pbx);
        if (c == nullptr || c->generation != generation || c->connection)
          return;
        ++c->status.restarts;
        c->reconnects->inc();
        if (auto* restarts = metrics::global().actor("ami_connection").restarts)
          restarts->inc();
        spawn_connection(self, *c);
      },
      [self](status_atom) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        std::vector<connection_status> result;
        result.reserve(self->state.connections.size());
        for (auto& c : self->state.connections)
          result.push_back(c.status);
        return result;
      },
  };
}

} // namespace sb
