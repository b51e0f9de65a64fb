#include "actors/ami_supervisor.hpp"
#include "actors/ami_connection.hpp"
#include "actors/ami_parser.hpp"

#include <algorithm>
#include <utility>

#include <caf/send.hpp>

#include "adapters/ami/client.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/time.hpp"

namespace sb {

namespace {

void set_state(supervised_connection& c, connection_state state) {
  c.status.state = state;
  c.status.since = now_micros();
  c.state_connecting->set(state == connection_state::connecting ? 1 : 0);
  c.state_logged_in->set(state == connection_state::logged_in ? 1 : 0);
  c.state_backing_off->set(state == connection_state::backing_off ? 1 : 0);
}

void spawn_connection(
    ami_supervisor_actor::stateful_pointer<ami_supervisor_state> self,
    supervised_connection& c) {
  ++c.generation;
  c.connection = spawn_ami_connection(
      self->system(), c.pbx, c.parser, self->state.tracker,
      caf::actor_cast<ami_supervisor_actor>(self), c.gate);
  self->monitor(c.connection);
  set_state(c, connection_state::connecting);
}

using self_ptr = ami_supervisor_actor::stateful_pointer<ami_supervisor_state>;

/// Every connection is down: flush each parser, answer the stop when all
/// parsers answered.
void flush_parsers(self_ptr self) {
  auto& st = self->state;
  st.stop_waiting = 0;
  for (auto& c : st.connections)
    if (c.parser)
      ++st.stop_waiting;
  if (st.stop_waiting == 0) {
    st.stop_promise.deliver(true);
    return;
  }
  for (auto& c : st.connections) {
    if (!c.parser)
      continue;
    self->request(c.parser, caf::infinite, flush_atom_v).then([self](bool) {
      if (--self->state.stop_waiting == 0)
        self->state.stop_promise.deliver(true);
    });
  }
}

/// Closes the connection so that it logs in again at once (no backoff): its
/// re-sync then tells the tracker which calls are up. A connection backing
/// off picks up the new parser or tracker when its restart comes.
void relogin(self_ptr self, supervised_connection& c) {
  if (!c.connection)
    return;
  c.relogin = true;
  self->send_exit(c.connection, caf::exit_reason::user_shutdown);
}

/// A parser died: the frames in its mailbox are gone. A new one takes over,
/// the tracker learns that events were lost (its calls wait for the
/// re-sync), and the connection logs in again. A parser that keeps dying
/// takes the supervisor down with it.
void on_parser_down(self_ptr self, supervised_connection& c,
                    const caf::error& reason) {
  auto& st = self->state;
  c.parser = nullptr;
  if (st.stopping)
    return;
  auto why = exit_reason_text(self->system(), reason);
  if (!c.parser_restarts.allow(std::chrono::steady_clock::now())) {
    log::error(ami_supervisor_state::name, "AMI parser keeps dying, giving up",
               {{"pbx", c.pbx.name}, {"error", why}});
    self->quit(caf::make_error(
        ec::unavailable, "the AMI parser of pbx " + c.pbx.name + " died "
                             + std::to_string(c.parser_restarts.max_restarts())
                             + " times within a minute: " + why));
    return;
  }
  log::error(ami_supervisor_state::name, "AMI parser died, restarting it",
             {{"pbx", c.pbx.name}, {"error", why}});
  if (auto* restarts = metrics::global().actor("ami_parser").restarts)
    restarts->inc();
  // What the dead parser held is gone: its charges with it.
  c.gate->reset();
  c.parser = spawn_ami_parser(self->system(), c.pbx.name, st.tracker, c.gate);
  self->monitor(c.parser);
  if (st.tracker)
    self->send(st.tracker, connection_lost_atom_v, c.pbx.name);
  relogin(self, c);
}

/// Sets up a connection's slot (metrics, backoff) and spawns its parser; the
/// connection itself starts later, maybe staggered.
void add_connection(self_ptr self, pbx_config pbx) {
  auto& st = self->state;
  auto& reg = metrics::global();
  auto& c = st.connections.emplace_back();
  c.pbx = std::move(pbx);
  c.status.pbx = c.pbx.name;
  c.delays.emplace(st.backoff.initial, st.backoff.max, st.backoff.jitter);
  c.reconnects = &reg.get_counter(
      "switchboard_ami_reconnects_total",
      "Restarts of an AMI connection after a failure.", {{"pbx", c.pbx.name}});
  auto state_gauge = [&](const char* state) {
    return &reg.get_gauge(
        "switchboard_ami_connection_state",
        "1 for the current state of each AMI connection, else 0.",
        {{"pbx", c.pbx.name}, {"state", state}});
  };
  c.state_connecting = state_gauge("connecting");
  c.state_logged_in = state_gauge("logged_in");
  c.state_backing_off = state_gauge("backing_off");
  c.gate = std::make_shared<flow_gate>(c.pbx.max_queued_bytes);
  c.parser = spawn_ami_parser(self->system(), c.pbx.name, st.tracker, c.gate);
  self->monitor(c.parser);
}

/// In groups, so that a restart of a process with many PBXes is no
/// thundering herd of logins.
void start_connections(self_ptr self) {
  auto& st = self->state;
  for (size_t i = 0; i < st.connections.size(); ++i) {
    auto& c = st.connections[i];
    auto group = i / std::max<size_t>(1, st.backoff.start_group);
    if (group == 0)
      spawn_connection(self, c);
    else
      self->delayed_send(self, st.backoff.stagger * group, restart_atom_v,
                         c.pbx.name, c.generation);
  }
}

/// A connection went down: during a stop it counts towards the flush; a
/// relogin starts it again at once; a failure is retried after a backoff.
void on_connection_down(self_ptr self, supervised_connection& c,
                        const caf::error& reason) {
  auto& st = self->state;
  c.connection = nullptr;
  if (st.stopping) {
    if (--st.stop_waiting == 0)
      flush_parsers(self);
    return;
  }
  if (c.relogin) {
    c.relogin = false;
    log::info(ami_supervisor_state::name,
              "logging in again so the call tracker re-syncs",
              {{"pbx", c.pbx.name}});
    spawn_connection(self, c);
    return;
  }
  auto now = std::chrono::steady_clock::now();
  // A session that worked is no failure to back off from: the PBX
  // restarted or the network blinked, and every second away loses calls.
  if (c.status.state == connection_state::logged_in
      && (c.streamed || now - c.logged_in_at >= st.backoff.healthy))
    c.delays->reset();
  auto wait = c.delays->next();
  c.status.last_error = exit_reason_text(self->system(), reason);
  set_state(c, connection_state::backing_off);
  log::warning(
      ami_supervisor_state::name, "connection failed, retrying",
      {{"pbx", c.pbx.name},
       {"error", c.status.last_error},
       {"retry_in_s",
        ami::format_seconds(static_cast<double>(wait.count()) / 1000.0)}});
  self->delayed_send(self, wait, restart_atom_v, c.pbx.name, c.generation);
}

void on_down(self_ptr self, const caf::down_msg& down) {
  metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
  auto& st = self->state;
  auto i = std::find_if(st.connections.begin(), st.connections.end(),
                        [&](const supervised_connection& c) {
                          return c.connection
                                 && c.connection.address() == down.source;
                        });
  if (i != st.connections.end()) {
    on_connection_down(self, *i, down.reason);
    return;
  }
  auto p = std::find_if(st.connections.begin(), st.connections.end(),
                        [&](const supervised_connection& c) {
                          return c.parser && c.parser.address() == down.source;
                        });
  if (p != st.connections.end())
    on_parser_down(self, *p, down.reason);
}

void on_connected(self_ptr self, const std::string& pbx,
                  connection_state state) {
  metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
  auto* c = self->state.find(pbx);
  // Reports from a connection that was already replaced are stale.
  if (c == nullptr || !c->connection
      || caf::actor_cast<caf::actor_addr>(self->current_sender())
             != c->connection.address())
    return;
  switch (state) {
    case connection_state::logged_in:
      c->logged_in_at = std::chrono::steady_clock::now();
      c->streamed = false;
      set_state(*c, connection_state::logged_in);
      break;
    case connection_state::streaming:
      c->streamed = true;
      break;
    case connection_state::connecting:
      set_state(*c, connection_state::connecting);
      break;
    default:
      break;
  }
}

void on_restart(self_ptr self, const std::string& pbx, uint64_t generation) {
  metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
  auto* c = self->state.find(pbx);
  if (self->state.stopping || c == nullptr || c->generation != generation
      || c->connection)
    return;
  if (generation == 0) {
    // A staggered first start, not a restart.
    spawn_connection(self, *c);
    return;
  }
  ++c->status.restarts;
  c->reconnects->inc();
  if (auto* restarts = metrics::global().actor("ami_connection").restarts)
    restarts->inc();
  spawn_connection(self, *c);
}

std::vector<connection_status> statuses(self_ptr self) {
  metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
  std::vector<connection_status> result;
  result.reserve(self->state.connections.size());
  for (auto& c : self->state.connections)
    result.push_back(c.status);
  return result;
}

void on_rewire(self_ptr self, const caf::actor& tracker) {
  auto& st = self->state;
  st.tracker = caf::actor_cast<call_tracker_actor>(tracker);
  for (auto& c : st.connections) {
    if (c.parser)
      self->send(c.parser, rewire_atom_v, tracker);
    relogin(self, c);
  }
}

caf::result<originate_reply>
on_originate(self_ptr self, originate_atom a, originate_request& req) {
  auto& conns = self->state.connections;
  supervised_connection* c = nullptr;
  if (!req.pbx.empty()) {
    c = self->state.find(req.pbx);
    if (c == nullptr)
      return originate_reply{originate_outcome::unknown_pbx, req.pbx,
                             "no PBX named '" + req.pbx + "' is configured"};
  } else if (conns.size() == 1) {
    c = &conns.front();
  } else {
    return originate_reply{
        originate_outcome::unknown_pbx, "",
        conns.empty() ? "no PBX is configured"
                      : "several PBXes are configured: name one in pbx"};
  }
  if (!c->connection || self->state.stopping)
    return originate_reply{originate_outcome::not_connected, c->pbx.name,
                           "not connected to the PBX"
                               + (c->status.last_error.empty()
                                      ? std::string{}
                                      : ": " + c->status.last_error)};
  req.pbx = c->pbx.name;
  return self->delegate(c->connection, a, std::move(req));
}

caf::result<bool> on_flush(self_ptr self) {
  metrics::message_probe probe{*self->state.metrics, self->mailbox().size()};
  auto& st = self->state;
  if (st.stopping)
    return true;
  st.stopping = true;
  st.stop_promise = self->make_response_promise<bool>();
  st.stop_waiting = 0;
  // Closing a connection joins its socket reader: once its down
  // message is here, no frame of it can follow the parser flush.
  for (auto& c : st.connections) {
    if (!c.connection)
      continue;
    ++st.stop_waiting;
    self->send_exit(c.connection, caf::exit_reason::user_shutdown);
  }
  if (st.stop_waiting == 0)
    flush_parsers(self);
  return st.stop_promise;
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
  st.connections.reserve(pbxes.size());
  for (auto& pbx : pbxes)
    add_connection(self, std::move(pbx));
  start_connections(self);
  self->set_down_handler([self](caf::down_msg& down) { on_down(self, down); });
  return {
      [self](connected_atom, std::string& pbx, connection_state state) {
        on_connected(self, pbx, state);
      },
      [self](restart_atom, std::string& pbx, uint64_t generation) {
        on_restart(self, pbx, generation);
      },
      [self](status_atom) { return statuses(self); },
      [self](originate_atom a, originate_request& req) {
        return on_originate(self, a, req);
      },
      [self](rewire_atom, caf::actor& tracker) { on_rewire(self, tracker); },
      [self](flush_atom) -> caf::result<bool> { return on_flush(self); },
  };
}

} // namespace sb
