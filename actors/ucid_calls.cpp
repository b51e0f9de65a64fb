#include "actors/ucid_calls.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "actors/ucid_calls_internal.hpp"
#include "adapters/json/event_json.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"

namespace sb {

namespace ucid_calls_detail {

using namespace std::chrono;

caf::timespan session_timeout(calls_ptr self) {
  auto& st = self->state;
  if (st.opts.session_timeout.count() > 0)
    return st.opts.session_timeout;
  // The session may fetch a token and retry up to three times with backoff.
  auto per_request = std::max(1.0, st.cfg.request_timeout_seconds);
  return duration_cast<caf::timespan>(duration<double>{per_request * 5 + 20});
}

ozonetel_answer session_down(const char* api, std::string message) {
  ozonetel_answer answer;
  answer.api = api;
  answer.outcome = ozonetel_outcome::unavailable;
  answer.message = std::move(message);
  return answer;
}

} // namespace ucid_calls_detail

namespace {

using namespace ucid_calls_detail;
using namespace std::chrono;

// -- performing what the book decided -----------------------------------------

void emit(calls_ptr self, event_record e) {
  if (self->state.events)
    self->send(self->state.events, append_atom_v, std::move(e));
}

void log_notice(const call_notice& n) {
  switch (n.kind) {
    case call_notice_kind::inbound_call:
      sb::log::info(log_name, "inbound call", {{"ucid", n.ucid}});
      return;
    case call_notice_kind::callback_only_call:
      sb::log::info(
          log_name, "call known from the callback only",
          {{"ucid", n.ucid}, {"type", n.detail}, {"status", n.extra}});
      return;
    case call_notice_kind::pending_cleared:
      sb::log::debug(log_name, "outbound pending cleared",
                     {{"ucid", n.ucid}, {"why", n.detail}});
      return;
    case call_notice_kind::pending_expired:
      sb::log::info(log_name, "outbound pending expired", {{"ucid", n.ucid}});
      return;
    case call_notice_kind::disposition_set:
      sb::log::info(log_name, "disposition set",
                    {{"ucid", n.ucid},
                     {"disposition", n.detail},
                     {"automatic", n.automatic ? "yes" : "no"},
                     {"outcome", n.extra}});
      return;
    case call_notice_kind::disposition_retry:
      sb::log::warning(log_name, "disposition not delivered, will retry",
                       {{"ucid", n.ucid},
                        {"outcome", n.detail},
                        {"message", n.extra},
                        {"retry_in_ms", std::to_string(n.delay_ms)}});
      return;
    case call_notice_kind::default_refused:
      sb::log::error(log_name, "CloudAgent refused the default disposition",
                     {{"ucid", n.ucid},
                      {"disposition", n.detail},
                      {"message", n.extra},
                      {"answer", n.answer}});
      sb::metrics::global()
          .get_counter("switchboard_ozonetel_disposition_failures_total",
                       "Calls whose default disposition CloudAgent refused "
                       "(the seat may stay in after-call work)")
          .inc();
      return;
    case call_notice_kind::automatic_disposition:
      sb::log::info(log_name, "no disposition in time, sending the default",
                    {{"ucid", n.ucid}, {"disposition", n.detail}});
      return;
    case call_notice_kind::never_ended:
      sb::log::warning(log_name, "call never ended, closing it",
                       {{"ucid", n.ucid}, {"state", n.detail}});
      return;
  }
}

void send_entry(calls_ptr self, call_entry& entry) {
  sb::metrics::global()
      .get_counter(
          "switchboard_ozonetel_calls_total",
          "Ozonetel calls handed to the comms log, by final state "
          "(a late callback's merge counts as an update)",
          {{"state", entry.update ? "update" : to_string(entry.phase)}})
      .inc();
  sb::log::info(log_name, entry.update ? "call entry updated" : "call entry",
                {{"ucid", entry.call.ucid},
                 {"state", to_string(entry.phase)},
                 {"disposition", entry.disposition}});
  if (self->state.matcher)
    self->send(self->state.matcher,
               std::vector<completed_call>{std::move(entry.call)});
}

void arm(calls_ptr self, const call_timer& timer) {
  auto delay
      = microseconds{std::max<unix_micros>(0, timer.due - self->state.clock())};
  switch (timer.kind) {
    case call_timer_kind::pending_expiry:
      self->delayed_send(self, delay, expire_atom_v, timer.ucid,
                         timer.generation);
      return;
    case call_timer_kind::acw:
      self->delayed_send(self, delay, acw_atom_v, timer.ucid, timer.generation);
      return;
    case call_timer_kind::retry:
      self->delayed_send(self, delay, retry_atom_v, timer.ucid);
      return;
  }
}

void send_disposition(calls_ptr self, ozonetel_disposition d,
                      caf::optional<reply_promise> rp);

} // namespace

void ucid_calls_detail::perform(calls_ptr self, call_effects& out,
                                const caf::optional<reply_promise>& rp) {
  // Stored before anything leaves: a crash after a disposition went out
  // finds it marked as being sent, and sends it again (CloudAgent answers
  // "already Disposed", which counts as done).
  persist(self);
  for (auto& notice : out.notices)
    log_notice(notice);
  for (auto& entry : out.entries)
    send_entry(self, entry);
  for (auto& timer : out.timers)
    arm(self, timer);
  for (auto& d : out.dispositions)
    send_disposition(self, std::move(d), rp);
}

namespace {

void on_disposition_answer(calls_ptr self, const std::string& ucid,
                           ozonetel_answer answer,
                           caf::optional<reply_promise> rp) {
  call_effects out;
  note_answer(self, answer);
  auto reply = self->state.book->on_disposition_answer(
      ucid, std::move(answer), self->state.clock(), out);
  const auto* call = self->state.book->find(ucid);
  emit(self, json::ozonetel_disposition_event(
                 ucid, call ? call->agent_id : self->state.cfg.agent_id,
                 reply.disposition, to_string(reply.code)));
  perform(self, out);
  if (rp)
    rp->deliver(std::move(reply));
}

void send_disposition(calls_ptr self, ozonetel_disposition d,
                      caf::optional<reply_promise> rp) {
  auto& st = self->state;
  auto ucid = d.ucid;
  if (!st.session) {
    on_disposition_answer(
        self, ucid,
        session_down("DispositionAPIV2", "the Ozonetel session is not running"),
        std::move(rp));
    return;
  }
  self->request(st.session, session_timeout(self), dispose_atom_v, std::move(d))
      .then(
          [self, ucid, rp](ozonetel_answer& answer) {
            on_disposition_answer(self, ucid, std::move(answer), rp);
          },
          [self, ucid, rp](caf::error& err) {
            on_disposition_answer(
                self, ucid,
                session_down("DispositionAPIV2",
                             "no answer from the Ozonetel session: "
                                 + to_string(err)),
                rp);
          });
}

} // namespace

void ucid_calls_detail::send_disposition_then(
    calls_ptr self, ozonetel_disposition d,
    std::function<void(const ozonetel_answer&)> then) {
  auto& st = self->state;
  auto ucid = d.ucid;
  auto finish = [self, ucid, then](ozonetel_answer answer) {
    auto copy = answer;
    on_disposition_answer(self, ucid, std::move(answer), caf::none);
    then(copy);
  };
  if (!st.session) {
    finish(session_down("DispositionAPIV2",
                        "the Ozonetel session is not running"));
    return;
  }
  self->request(st.session, session_timeout(self), dispose_atom_v, std::move(d))
      .then([finish](ozonetel_answer& answer) { finish(std::move(answer)); },
            [finish](caf::error& err) {
              finish(session_down("DispositionAPIV2",
                                  "no answer from the Ozonetel session: "
                                      + to_string(err)));
            });
}

namespace {

// -- session supervision ------------------------------------------------------

void spawn_session(calls_ptr self) {
  auto& st = self->state;
  st.restart_scheduled = false;
  if (!st.make_session || !st.cfg.enabled())
    return;
  st.session = st.make_session(self->system());
  if (st.session) {
    self->monitor(st.session);
    subscribe(self);
  }
}

void on_down(calls_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  if (!st.session || msg.source != st.session.address())
    return;
  st.session = nullptr;
  ++st.session_restarts;
  sb::metrics::global().actor("ozonetel_session").restarts->inc();
  auto delay = doubling_delay(st.opts.restart_initial, st.opts.restart_max,
                              st.session_restarts);
  sb::log::error(log_name, "Ozonetel session stopped, respawning",
                 {{"reason", to_string(msg.reason)},
                  {"restart_in_ms", std::to_string(delay.count())}});
  if (!st.restart_scheduled) {
    st.restart_scheduled = true;
    self->delayed_send(self, delay, restart_atom_v);
  }
}

// -- handlers -----------------------------------------------------------------

caf::result<ucid_reply> handle_dial(calls_ptr self,
                                    const ozonetel_dial_request& req) {
  auto& st = self->state;
  std::string number;
  if (auto refused = st.book->begin_dial(req, static_cast<bool>(st.session),
                                         number, st.clock()))
    return std::move(*refused);
  auto rp = self->make_response_promise<ucid_reply>();
  auto customer_id = req.customer_id;
  auto agent = st.book->agent_or_default(req.agent_id);
  self->request(st.session, session_timeout(self), dial_atom_v, agent, number)
      .then(
          [self, rp, agent, number,
           customer_id](ozonetel_answer& answer) mutable {
            if (answer.done() && answer.ucid.empty())
              sb::log::error(log_name, "dial answer without UCID",
                             {{"answer", answer.raw}});
            note_answer(self, answer);
            call_effects out;
            auto reply = self->state.book->on_dial_answer(
                std::move(answer), agent, number, customer_id,
                self->state.clock(), out);
            if (reply.code == ucid_reply_code::ok) {
              sb::log::info(log_name, "dial placed",
                            {{"ucid", reply.ucid}, {"agent", agent}});
              emit(self, json::ozonetel_call_event(reply.ucid, agent, "dial",
                                                   number));
            }
            perform(self, out);
            rp.deliver(std::move(reply));
          },
          [self, rp, agent](caf::error& err) mutable {
            self->state.book->dial_failed(agent);
            rp.deliver(make_reply(ucid_reply_code::unavailable,
                                  "no answer from the Ozonetel session: "
                                      + to_string(err)));
          });
  return rp;
}

caf::result<ucid_reply> handle_dispose(calls_ptr self,
                                       const ozonetel_dispose_request& req) {
  call_effects out;
  if (auto refused = self->state.book->dispose(req, self->state.clock(), out))
    return std::move(*refused);
  auto rp = self->make_response_promise<ucid_reply>();
  perform(self, out, rp);
  return rp;
}

ucid_reply agent_state_reply(ozonetel_answer& answer) {
  auto code = ucid_reply_code::ok;
  std::string message = answer.message;
  if (!answer.done()) {
    auto text = lower(answer.message);
    code = text.find("acw") != std::string::npos
                   || text.find("busy") != std::string::npos
               ? ucid_reply_code::conflict
               : failure_code(answer);
    message = "CloudAgent did not change the state: " + answer.message;
  }
  auto reply = make_reply(code, message);
  reply.state = answer.agent_state;
  reply.cloudagent = std::move(answer);
  return reply;
}

caf::result<ucid_reply>
handle_set_agent_state(calls_ptr self, const std::string& agent_id,
                       const std::string& state,
                       const std::string& pause_reason) {
  auto& st = self->state;
  auto agent = st.book->agent_or_default(agent_id);
  if (!st.book->known_agent(agent))
    return make_reply(ucid_reply_code::not_found, "no agent " + agent);
  auto wanted = lower(state);
  if (wanted != "ready" && wanted != "pause")
    return make_reply(ucid_reply_code::invalid, "state must be Ready or Pause");
  wanted = wanted == "ready" ? "Ready" : "Pause";
  if (wanted == "Ready") {
    // Never Ready while the seat holds a call of ours: on the line, or in
    // after-call work waiting for its disposition.
    auto* current = st.book->current_call(agent);
    if (current && live(current->phase))
      return make_reply(ucid_reply_code::conflict,
                        "agent " + agent + " is on call " + current->ucid
                            + ": Ready after it ends and is disposed",
                        current);
    auto waiting = st.book->awaiting_disposition(agent);
    if (!waiting.empty())
      return make_reply(ucid_reply_code::conflict,
                        "call " + waiting.front()
                            + " is in after-call work: dispose it first "
                              "(POST /api/ozonetel/dispose)",
                        st.book->find(waiting.front()));
  }
  if (!st.session)
    return make_reply(ucid_reply_code::unavailable,
                      st.cfg.enabled() ? "the Ozonetel session is not running"
                                       : "no Ozonetel account configured");
  auto rp = self->make_response_promise<ucid_reply>();
  self->request(st.session, session_timeout(self), agent_state_atom_v, agent,
                wanted, pause_reason)
      .then(
          [self, rp, agent, wanted](ozonetel_answer& answer) mutable {
            note_answer(self, answer);
            auto reply = agent_state_reply(answer);
            if (reply.code == ucid_reply_code::ok)
              emit(self, json::ozonetel_agent_state_event(agent, wanted));
            rp.deliver(std::move(reply));
          },
          [rp](caf::error& err) mutable {
            rp.deliver(make_reply(ucid_reply_code::unavailable,
                                  "no answer from the Ozonetel session: "
                                      + to_string(err)));
          });
  return rp;
}

/// Hands a timer that came due back to the book.
void handle_timer(calls_ptr self, call_timer timer) {
  call_effects out;
  timer.due = self->state.clock();
  self->state.book->on_timer(timer, timer.due, out);
  perform(self, out);
}

/// Sets the live-calls gauge when a handler is done, whatever it changed.
class live_calls_refresh {
public:
  explicit live_calls_refresh(calls_ptr self) noexcept : self_(self) {}
  ~live_calls_refresh() {
    self_->state.live_calls->set(
        static_cast<double>(self_->state.book->live_count()));
  }
  live_calls_refresh(const live_calls_refresh&) = delete;
  live_calls_refresh& operator=(const live_calls_refresh&) = delete;

private:
  calls_ptr self_;
};

/// Runs a handler under the actor's message metrics and the gauge refresh.
template <class Handler>
auto handled(calls_ptr self, Handler&& handler) {
  sb::metrics::message_probe probe{*self->state.metrics,
                                   self->mailbox().size()};
  live_calls_refresh refresh{self};
  return handler();
}

} // namespace

ucid_calls_state::~ucid_calls_state() {
  // The session lives and dies with us (the state dies with the actor).
  if (session)
    caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
}

ucid_calls_actor::behavior_type
ucid_calls(calls_ptr self, ozonetel_config cfg, customer_matcher_actor matcher,
           ucid_calls_state::session_factory make_session,
           ucid_calls_options opts) {
  return ucid_calls_with_clock(self, std::move(cfg), std::move(matcher),
                               std::move(make_session), opts,
                               system_wall_clock());
}

ucid_calls_actor::behavior_type
ucid_calls_with_clock(calls_ptr self, ozonetel_config cfg,
                      customer_matcher_actor matcher,
                      ucid_calls_state::session_factory make_session,
                      ucid_calls_options opts, wall_clock clock) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.opts = opts;
  st.clock = std::move(clock);
  st.book = std::make_unique<ozonetel_call_book>(
      st.cfg, call_book_timing{opts.retry_initial, opts.retry_max,
                               opts.finished_retention, opts.max_call_age});
  st.matcher = std::move(matcher);
  st.make_session = std::move(make_session);
  st.subscribe_backoff = subscribe_backoff(st.cfg, st.opts);
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  spawn_session(self);
  load_durable(self);
  self->delayed_send(self, st.opts.sweep_interval, sweep_atom_v);
  return {
      [=](dial_atom, const ozonetel_dial_request& req) {
        return handled(self, [&] { return handle_dial(self, req); });
      },
      [=](browser_atom, const browser_call_event& ev) {
        return handled(self, [&] {
          call_effects out;
          auto reply
              = self->state.book->on_browser(ev, self->state.clock(), out);
          if (reply.code == ucid_reply_code::ok)
            emit(self, json::ozonetel_call_event(
                           reply.ucid.empty() ? ev.ucid : reply.ucid,
                           self->state.book->agent_or_default(ev.agent_id),
                           to_string(ev.event),
                           ev.caller));
          perform(self, out);
          return reply;
        });
      },
      [=](dispose_atom, const ozonetel_dispose_request& req) {
        return handled(self, [&] { return handle_dispose(self, req); });
      },
      [=](callback_atom, const ozonetel_call_details& d) {
        return handled(self, [&] {
          call_effects out;
          auto reply
              = self->state.book->on_callback(d, self->state.clock(), out);
          if (reply.code == ucid_reply_code::ok)
            emit(self, json::ozonetel_call_event(d.ucid, d.agent_id,
                                                 "callback", d.caller_id));
          perform(self, out);
          return reply;
        });
      },
      [=](agent_state_atom) {
        return handled(self, [&] { return self->state.book->agent_view(); });
      },
      [=](agent_state_atom, const std::string& agent) {
        return handled(self, [&] {
          return self->state.book->agent_view(
              self->state.book->agent_or_default(agent));
        });
      },
      [=](agent_state_atom, const std::string& state,
          const std::string& pause_reason) {
        return handled(self, [&] {
          return handle_set_agent_state(self, {}, state, pause_reason);
        });
      },
      [=](agent_state_atom, const std::string& agent, const std::string& state,
          const std::string& pause_reason) {
        return handled(self, [&] {
          return handle_set_agent_state(self, agent, state, pause_reason);
        });
      },
      [=](login_atom, const std::string& agent) {
        return handled(self, [&] { return handle_login(self, agent, true); });
      },
      [=](logout_atom, const std::string& agent) {
        return handled(self, [&] { return handle_login(self, agent, false); });
      },
      [=](force_ready_atom, const std::string& agent) {
        return handled(self, [&] { return handle_force_ready(self, agent); });
      },
      [=](agents_atom) {
        return handled(self, [&] { return list_agents(self); });
      },
      [=](agents_atom, const agent_change_request& req) {
        return handled(self, [&] { return change_agent(self, req); });
      },
      [=](call_event_atom, const ozonetel_call_event& ev) {
        return handled(self, [&] {
          call_effects out;
          auto reply
              = self->state.book->on_call_event(ev, self->state.clock(), out);
          perform(self, out);
          return reply;
        });
      },
      [=](agent_event_atom, const ozonetel_agent_event& ev) {
        return handled(self, [&] {
          self->state.book->on_agent_event(ev, self->state.clock());
          return make_reply(ucid_reply_code::ok, {});
        });
      },
      [=](health_atom) {
        return handled(self, [&] { return handle_health(self); });
      },
      [=](subscribe_atom, const ozonetel_answer& answer) {
        handled(self, [&] { on_subscribed(self, answer); });
      },
      [=](subscribe_atom, uint64_t generation) {
        handled(self, [&] { on_subscribe_timer(self, generation); });
      },
      [=](active_atom) {
        return handled(self, [&] { return self->state.book->live_calls(); });
      },
      [=](expire_atom, const std::string& ucid, uint64_t generation) {
        handled(self, [&] {
          handle_timer(self,
                       {call_timer_kind::pending_expiry, ucid, generation, 0});
        });
      },
      [=](acw_atom, const std::string& ucid, uint64_t generation) {
        handled(self, [&] {
          handle_timer(self, {call_timer_kind::acw, ucid, generation, 0});
        });
      },
      [=](retry_atom, const std::string& ucid) {
        handled(self, [&] {
          handle_timer(self, {call_timer_kind::retry, ucid, 0, 0});
        });
      },
      [=](restart_atom) {
        handled(self, [&] {
          if (!self->state.session)
            spawn_session(self);
        });
      },
      [=](sweep_atom) {
        handled(self, [&] {
          call_effects out;
          self->state.book->sweep(self->state.clock(), out);
          perform(self, out);
          self->delayed_send(self, self->state.opts.sweep_interval,
                             sweep_atom_v);
        });
      },
      [=](rewire_atom, caf::actor& matcher) {
        self->state.matcher = caf::actor_cast<customer_matcher_actor>(matcher);
      },
      [=](events_atom, caf::actor& events) {
        self->state.events = caf::actor_cast<event_log_actor>(events);
      },
  };
}

} // namespace sb
