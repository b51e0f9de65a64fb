#include "actors/ami_connection.hpp"

#include <chrono>
#include <string>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/weak_intrusive_ptr.hpp>

#include "core/log.hpp"
#include "domain/originate.hpp"

namespace sb {

namespace {

void report_state(
    ami_connection_actor::stateful_pointer<ami_connection_state> self,
    connection_state state) {
  if (auto strong = self->state.supervisor.lock())
    self->send(caf::actor_cast<ami_supervisor_actor>(strong),
               connected_atom_v, self->state.pbx.name, state);
}

using connection_ptr
    = ami_connection_actor::stateful_pointer<ami_connection_state>;

originate_reply reply_of(const std::string& pbx, originate_outcome outcome,
                         std::string message) {
  return {outcome, pbx, std::move(message)};
}

caf::result<originate_reply> send_originate(connection_ptr self,
                                            originate_request& req) {
  auto& st = self->state;
  if (!st.logged_in)
    return reply_of(st.pbx.name, originate_outcome::not_connected,
                    "not connected to the PBX (not logged in yet)");
  if (st.originates.size() >= st.pbx.max_pending_originates)
    return reply_of(st.pbx.name, originate_outcome::too_many,
                    std::to_string(st.originates.size())
                        + " Originates are waiting for the PBX's answer");
  if (st.originates.count(req.request_id) > 0)
    return reply_of(st.pbx.name, originate_outcome::refused,
                    "duplicate request id");
  auto rp = self->make_response_promise<originate_reply>();
  st.originates.emplace(req.request_id, rp);
  caf::weak_actor_ptr weak_self{self->ctrl()};
  auto id = req.request_id;
  auto pbx = st.pbx.name;
  st.client->send_action(
      "Originate", id, originate_fields(st.pbx, req),
      [weak_self, id, pbx](ami::action_result result, std::string message) {
        auto outcome = result == ami::action_result::success
                           ? originate_outcome::queued
                       : result == ami::action_result::error
                           ? originate_outcome::refused
                           : originate_outcome::not_connected;
        if (auto strong = weak_self.lock())
          caf::anon_send(caf::actor_cast<ami_connection_actor>(strong),
                         originate_atom_v, id,
                         reply_of(pbx, outcome, std::move(message)));
      });
  auto bound = std::chrono::duration<double>{st.pbx.originate_answer_seconds};
  self->delayed_send(
      self, std::chrono::duration_cast<caf::timespan>(bound), originate_atom_v,
      req.request_id,
      reply_of(st.pbx.name, originate_outcome::timeout,
               "the PBX did not answer the Originate within "
                   + ami::format_seconds(st.pbx.originate_answer_seconds)
                   + " s"));
  return rp;
}

/// The first outcome of an Originate wins (answer or deadline).
void settle_originate(connection_ptr self, const std::string& id,
                      originate_reply& reply) {
  auto& pending = self->state.originates;
  auto i = pending.find(id);
  if (i == pending.end())
    return;
  auto rp = std::move(i->second);
  pending.erase(i);
  rp.deliver(std::move(reply));
}

} // namespace

ami_connection_actor::behavior_type ami_connection(
    ami_connection_actor::stateful_pointer<ami_connection_state> self,
    pbx_config pbx, ami_parser_actor parser, call_tracker_actor tracker,
    const ami_supervisor_actor& supervisor, std::shared_ptr<flow_gate> gate) {
  auto& st = self->state;
  st.pbx = std::move(pbx);
  st.parser = std::move(parser);
  st.tracker = std::move(tracker);
  if (supervisor)
    st.supervisor = caf::actor_cast<caf::weak_actor_ptr>(supervisor);
  auto* oversized = &metrics::global().get_counter(
      "switchboard_ami_frames_rejected_total",
      "AMI frames dropped: malformed, oversized, or not an event.",
      {{"pbx", st.pbx.name}, {"reason", "oversized"}});
  // The socket thread holds only a weak reference: a dead actor must not be
  // kept alive by its own reader.
  caf::weak_actor_ptr weak_self{self->ctrl()};
  auto notify = [weak_self](auto&&... xs) {
    if (auto strong = weak_self.lock())
      caf::anon_send(caf::actor_cast<ami_connection_actor>(strong),
                     std::forward<decltype(xs)>(xs)...);
  };
  ami::client_callbacks callbacks;
  callbacks.on_logged_in = [notify] { notify(connected_atom_v); };
  // Frames go straight from the I/O pool to the parser: the reader never
  // waits on this actor's mailbox.
  // The first frames of the session tell the supervisor that the PBX
  // really serves it (a healthy session resets the reconnect backoff).
  callbacks.on_frames = [parser = st.parser, notify,
                         first = true](ami_frame_batch&& batch) mutable {
    if (parser)
      caf::anon_send(parser, std::move(batch));
    if (first) {
      first = false;
      notify(connected_atom_v, connection_state::streaming);
    }
  };
  auto* paused = &metrics::global().get_counter(
      "switchboard_ami_read_pauses_total",
      "Times the reader of a PBX stopped reading because "
      "pbx.<name>.max_queued_bytes were queued ahead of the writer.",
      {{"pbx", st.pbx.name}});
  callbacks.on_paused = [paused] { paused->inc(); };
  callbacks.on_oversized = [oversized](uint64_t count) {
    oversized->inc(static_cast<double>(count));
  };
  callbacks.on_failed = [notify](std::string reason) {
    notify(connection_lost_atom_v, std::move(reason));
  };
  log::info(ami_connection_state::name, "connecting",
            {{"pbx", st.pbx.name},
             {"host", st.pbx.host},
             {"port", std::to_string(st.pbx.port)},
             {"auth", st.pbx.auth == ami_auth::md5 ? "md5" : "plain"}});
  report_state(self, connection_state::connecting);
  st.client = std::make_unique<ami::client>(st.pbx, std::move(callbacks),
                                            std::move(gate));
  st.client->start();
  return {
      [self](connected_atom) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        auto& st = self->state;
        st.logged_in = true;
        log::info(ami_connection_state::name, "logged in",
                  {{"pbx", st.pbx.name}, {"events", st.pbx.events}});
        report_state(self, connection_state::logged_in);
      },
      [self](connected_atom, connection_state state) {
        report_state(self, state);
      },
      [self](originate_atom, originate_request& req) {
        return send_originate(self, req);
      },
      [self](originate_atom, std::string& id, originate_reply& reply) {
        settle_originate(self, id, reply);
      },
      [self](connection_lost_atom, std::string& reason) {
        metrics::message_probe probe{*self->state.metrics,
                                     self->mailbox().size()};
        auto& st = self->state;
        log::warning(ami_connection_state::name, "connection failed",
                     {{"pbx", st.pbx.name}, {"error", reason}});
        if (st.logged_in) {
          // Through the parser when there is one, so the tracker hears of the
          // loss after the last frames read before it.
          if (st.parser)
            self->send(st.parser, connection_lost_atom_v, st.pbx.name);
          else if (st.tracker)
            self->send(st.tracker, connection_lost_atom_v, st.pbx.name);
        }
        for (auto& [id, rp] : st.originates)
          rp.deliver(reply_of(st.pbx.name, originate_outcome::lost,
                              "the PBX connection dropped before it answered "
                              "the Originate: "
                                  + reason));
        st.originates.clear();
        st.client->stop();
        self->quit(caf::make_error(caf::sec::runtime_error, std::move(reason)));
      },
  };
}

ami_connection_actor
spawn_ami_connection(caf::actor_system& sys, pbx_config pbx,
                     ami_parser_actor parser, call_tracker_actor tracker,
                     ami_supervisor_actor supervisor,
                     std::shared_ptr<flow_gate> gate) {
  return sys.spawn(ami_connection, std::move(pbx), std::move(parser),
                   std::move(tracker), std::move(supervisor), std::move(gate));
}

std::string exit_reason_text(caf::actor_system& sys, const caf::error& reason) {
  auto& context = reason.context();
  if (context.match_elements<std::string>())
    return context.get_as<std::string>(0);
  return sys.render(reason);
}

} // namespace sb
