#include "actors/ucid_calls.hpp"

#include <algorithm>
#include <cctype>

#include <caf/all.hpp>

#include "core/log.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"

namespace sb {

const char* to_string(ucid_call_phase x) noexcept {
  switch (x) {
    case ucid_call_phase::dialing:
      return "dialing";
    case ucid_call_phase::ringing:
      return "ringing";
    case ucid_call_phase::answered:
      return "answered";
    case ucid_call_phase::ended:
      return "ended";
    case ucid_call_phase::acw:
      return "acw";
    case ucid_call_phase::disposed:
      return "disposed";
    default:
      return "missed";
  }
}

namespace {

using calls_ptr = ucid_calls_actor::stateful_pointer<ucid_calls_state>;
using namespace std::chrono;

constexpr const char* log_name = "ucid_calls";

// SPEC section 3: the dispositions the CRM speaks; campaigns name theirs.
constexpr const char* internal_dispositions[] = {
    "APPOINTMENT_BOOKED", "FOLLOW_UP_SCHEDULED", "INFO_PROVIDED", "NO_ANSWER",
    "WRONG_NUMBER",       "CALLBACK_REQUESTED",  "NOT_INTERESTED"};

std::string upper(std::string text) {
  for (auto& c : text)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

bool terminal(ucid_call_phase p) {
  return p == ucid_call_phase::ended || p == ucid_call_phase::disposed
         || p == ucid_call_phase::missed;
}

bool live(ucid_call_phase p) {
  return p == ucid_call_phase::dialing || p == ucid_call_phase::ringing
         || p == ucid_call_phase::answered;
}

ucid_reply make_reply(ucid_reply_code code, std::string message,
                      const ucid_call* call = nullptr) {
  ucid_reply r;
  r.code = code;
  r.message = std::move(message);
  if (call) {
    r.ucid = call->ucid;
    r.state = to_string(call->phase);
    r.disposition = call->campaign_disposition;
  }
  return r;
}

/// Answers that mean "no CloudAgent to talk to" become 503, the rest 502.
ucid_reply_code failure_code(const ozonetel_answer& a) {
  return a.outcome == ozonetel_outcome::unavailable
                 || a.outcome == ozonetel_outcome::rate_limited
             ? ucid_reply_code::unavailable
             : ucid_reply_code::upstream;
}

ucid_call* find_call(calls_ptr self, const std::string& ucid) {
  if (ucid.empty())
    return nullptr;
  auto i = self->state.calls.find(ucid);
  return i == self->state.calls.end() ? nullptr : &i->second;
}

caf::timespan session_timeout(calls_ptr self) {
  auto& st = self->state;
  if (st.opts.session_timeout.count() > 0)
    return st.opts.session_timeout;
  // The session may fetch a token and retry up to three times with backoff.
  auto per_request = std::max(1.0, st.cfg.request_timeout_seconds);
  return duration_cast<caf::timespan>(duration<double>{per_request * 5 + 20});
}

milliseconds doubling(milliseconds initial, milliseconds max, int attempt) {
  auto delay = initial;
  for (int i = 1; i < attempt && delay < max; ++i)
    delay *= 2;
  return std::min(delay, max);
}

// -- outbound pending -------------------------------------------------------

void clear_pending_if(calls_ptr self, const std::string& ucid,
                      const char* why) {
  auto& st = self->state;
  if (st.pending && st.pending->ucid == ucid) {
    sb::log::debug(log_name, "outbound pending cleared",
                   {{"ucid", ucid}, {"why", why}});
    st.pending = caf::none;
  }
}

ucid_call* pending_call(calls_ptr self) {
  auto& st = self->state;
  if (!st.pending || st.pending->agent_id != st.cfg.agent_id)
    return nullptr;
  return find_call(self, st.pending->ucid);
}

// -- the comms-log entry ----------------------------------------------------

std::string entry_notes(const ucid_call& call) {
  std::string notes;
  if (!call.campaign_disposition.empty()) {
    notes = "Disposition: " + call.campaign_disposition;
    if (!call.disposition_name.empty()
        && call.disposition_name != call.campaign_disposition)
      notes += " (" + call.disposition_name + ")";
    if (call.disposed_elsewhere)
      notes += " (set in CloudAgent)";
    if (call.automatic)
      notes += " (set automatically: no disposition within the after-call "
               "work time)";
    if (call.progress == disposition_progress::failed)
      notes += " (refused by CloudAgent: " + call.disposition_answer + ")";
  }
  if (!call.notes.empty()) {
    if (!notes.empty())
      notes += "\n";
    notes += "Notes: " + call.notes;
  }
  return notes;
}

completed_call to_completed(calls_ptr self, const ucid_call& call) {
  auto& st = self->state;
  completed_call c;
  c.source = "ozonetel";
  c.ext_message_id = call.ucid;
  c.ucid = call.ucid;
  c.origin = st.cfg.account;
  c.direction = call.direction;
  c.external_number = call.external_number;
  c.extension = call.agent_id;
  if (call.direction == call_direction::inbound)
    c.did = call.did;
  c.disposition
      = call.answered ? call_disposition::answered : call.unanswered_outcome;
  c.started_at = call.created_at;
  c.answered_at = call.answered ? call.answered_at : 0;
  c.ended_at = call.ended_at;
  auto seconds_between = [](unix_micros from, unix_micros to) -> int64_t {
    return from > 0 && to > from ? (to - from + 500000) / 1000000 : 0;
  };
  c.duration_seconds = call.callback_duration_seconds > 0
                           ? call.callback_duration_seconds
                           : seconds_between(call.created_at, call.ended_at);
  if (call.answered)
    c.talk_seconds = call.callback_talk_seconds > 0
                         ? call.callback_talk_seconds
                         : seconds_between(call.answered_at, call.ended_at);
  c.billsec = c.talk_seconds;
  c.notes = entry_notes(call);
  c.incomplete = call.incomplete;
  return c;
}

void emit(calls_ptr self, ucid_call& call) {
  auto& st = self->state;
  if (call.finished_at == 0)
    call.finished_at = now_micros();
  ++call.emitted;
  sb::metrics::global()
      .get_counter(
          "switchboard_ozonetel_calls_total",
          "Ozonetel calls handed to the comms log, by final state "
          "(a late callback's merge counts as an update)",
          {{"state", call.emitted > 1 ? "update" : to_string(call.phase)}})
      .inc();
  sb::log::info(log_name,
                call.emitted > 1 ? "call entry updated" : "call entry",
                {{"ucid", call.ucid},
                 {"state", to_string(call.phase)},
                 {"disposition", call.campaign_disposition}});
  if (st.matcher)
    self->send(st.matcher,
               std::vector<completed_call>{to_completed(self, call)});
}

// -- dispositions -------------------------------------------------------------

/// Our name or a campaign name -> the campaign's name; none when unknown.
caf::optional<std::string> campaign_disposition(const ozonetel_config& cfg,
                                                const std::string& name) {
  auto i = cfg.disposition_map.find(name);
  if (i == cfg.disposition_map.end())
    i = cfg.disposition_map.find(upper(name));
  if (i != cfg.disposition_map.end())
    return i->second;
  auto ours = upper(name);
  for (auto known : internal_dispositions)
    if (ours == known)
      return cfg.default_disposition;
  for (auto& [internal, campaign] : cfg.disposition_map)
    if (campaign == name)
      return campaign;
  if (name == cfg.default_disposition)
    return name;
  return caf::none;
}

bool needs_disposition(calls_ptr self, const ucid_call& call) {
  // Only our agent's seat is ours to release; CloudAgent puts it in
  // after-call work after any answered call and after every manual dial.
  return call.agent_id == self->state.cfg.agent_id
         && (call.answered || call.direction == call_direction::outbound);
}

void send_disposition(
    calls_ptr self, const std::string& ucid,
    caf::optional<caf::typed_response_promise<ucid_reply>> rp);

void settle_after_disposition(calls_ptr self, ucid_call& call) {
  if (call.phase == ucid_call_phase::acw) {
    call.phase = ucid_call_phase::disposed;
    emit(self, call);
  }
}

void on_disposition_answer(
    calls_ptr self, const std::string& ucid, ozonetel_answer answer,
    caf::optional<caf::typed_response_promise<ucid_reply>> rp) {
  auto& st = self->state;
  auto* call = find_call(self, ucid);
  if (!call) {
    if (rp)
      rp->deliver(make_reply(ucid_reply_code::not_found,
                             "the call was forgotten meanwhile"));
    return;
  }
  call->disposition_answer = answer.message;
  if (answer.done()) {
    call->progress = disposition_progress::done;
    sb::log::info(log_name, "disposition set",
                  {{"ucid", ucid},
                   {"disposition", call->campaign_disposition},
                   {"automatic", call->automatic ? "yes" : "no"},
                   {"outcome", to_string(answer.outcome)}});
    settle_after_disposition(self, *call);
    if (rp) {
      auto reply = make_reply(answer.outcome == ozonetel_outcome::accepted
                                  ? ucid_reply_code::accepted
                                  : ucid_reply_code::ok,
                              answer.message, call);
      reply.cloudagent = std::move(answer);
      rp->deliver(std::move(reply));
    }
    return;
  }
  if (answer.transient()) {
    // CloudAgent is down or out of tokens: keep the disposition and try
    // again; it is never dropped.
    call->progress = disposition_progress::retrying;
    auto delay = doubling(st.opts.retry_initial, st.opts.retry_max,
                          call->disposition_attempts);
    sb::log::warning(log_name, "disposition not delivered, will retry",
                     {{"ucid", ucid},
                      {"outcome", to_string(answer.outcome)},
                      {"message", answer.message},
                      {"retry_in_ms", std::to_string(delay.count())}});
    self->delayed_send(self, delay, retry_atom_v, ucid);
    if (rp) {
      auto reply
          = make_reply(ucid_reply_code::accepted,
                       "CloudAgent did not take the disposition yet ("
                           + answer.message + "); switchboard keeps retrying",
                       call);
      reply.cloudagent = std::move(answer);
      rp->deliver(std::move(reply));
    }
    return;
  }
  // CloudAgent refused this disposition.
  if (call->automatic) {
    if (call->campaign_disposition != st.cfg.default_disposition) {
      call->campaign_disposition = st.cfg.default_disposition;
      call->disposition_name.clear();
      send_disposition(self, ucid, caf::none);
      return;
    }
    call->progress = disposition_progress::failed;
    sb::log::error(log_name, "CloudAgent refused the default disposition",
                   {{"ucid", ucid},
                    {"disposition", call->campaign_disposition},
                    {"message", answer.message},
                    {"answer", answer.raw}});
    sb::metrics::global()
        .get_counter("switchboard_ozonetel_disposition_failures_total",
                     "Calls whose default disposition CloudAgent refused (the "
                     "seat may stay in after-call work)")
        .inc();
    if (call->phase == ucid_call_phase::acw) {
      call->phase = ucid_call_phase::ended;
      emit(self, *call);
    }
    return;
  }
  // The agent's choice was refused: they may choose again, and the ACW
  // timer still guarantees a default.
  call->progress = disposition_progress::none;
  call->campaign_disposition.clear();
  call->disposition_name.clear();
  if (rp) {
    auto reply = make_reply(
        ucid_reply_code::upstream,
        "CloudAgent refused the disposition: " + answer.message, call);
    reply.cloudagent = std::move(answer);
    rp->deliver(std::move(reply));
  }
}

void send_disposition(
    calls_ptr self, const std::string& ucid,
    caf::optional<caf::typed_response_promise<ucid_reply>> rp) {
  auto& st = self->state;
  auto* call = find_call(self, ucid);
  if (!call)
    return;
  call->progress = disposition_progress::sending;
  ++call->disposition_attempts;
  if (!st.session) {
    ozonetel_answer unavailable;
    unavailable.api = "DispositionAPIV2";
    unavailable.outcome = ozonetel_outcome::unavailable;
    unavailable.message = "the Ozonetel session is not running";
    on_disposition_answer(self, ucid, std::move(unavailable), std::move(rp));
    return;
  }
  ozonetel_disposition d{ucid, call->campaign_disposition, call->notes,
                         call->callback_time};
  self->request(st.session, session_timeout(self), dispose_atom_v, std::move(d))
      .then(
          [self, ucid, rp](ozonetel_answer& answer) {
            on_disposition_answer(self, ucid, std::move(answer), rp);
          },
          [self, ucid, rp](caf::error& err) {
            ozonetel_answer failed;
            failed.api = "DispositionAPIV2";
            failed.outcome = ozonetel_outcome::unavailable;
            failed.message
                = "no answer from the Ozonetel session: " + to_string(err);
            on_disposition_answer(self, ucid, std::move(failed), rp);
          });
}

void start_acw(calls_ptr self, ucid_call& call) {
  auto& st = self->state;
  call.phase = ucid_call_phase::acw;
  call.acw_generation = st.next_generation++;
  auto timeout = duration_cast<caf::timespan>(
      duration<double>{std::max(0.0, st.cfg.acw_timeout_seconds)});
  self->delayed_send(self, timeout, acw_atom_v, call.ucid, call.acw_generation);
}

void end_call(calls_ptr self, ucid_call& call, unix_micros at) {
  if (!live(call.phase))
    return;
  call.ended_at = std::max(at, call.created_at);
  clear_pending_if(self, call.ucid, "call ended");
  if (call.progress == disposition_progress::done) {
    // Disposed while the call was up ("Disposition Queued Successfully").
    call.phase = ucid_call_phase::disposed;
    emit(self, call);
  } else if (call.progress == disposition_progress::sending
             || call.progress == disposition_progress::retrying) {
    call.phase = ucid_call_phase::acw;
  } else if (needs_disposition(self, call)) {
    start_acw(self, call);
  } else {
    call.phase = call.answered || call.direction == call_direction::outbound
                     ? ucid_call_phase::ended
                     : ucid_call_phase::missed;
    emit(self, call);
  }
}

ucid_call& create_call(calls_ptr self, const std::string& ucid,
                       call_direction direction, ucid_call_phase phase,
                       unix_micros at) {
  auto& st = self->state;
  auto& call = st.calls[ucid];
  call.ucid = ucid;
  call.direction = direction;
  call.phase = phase;
  call.agent_id = st.cfg.agent_id;
  call.campaign = st.cfg.campaign;
  call.created_at = at;
  if (direction == call_direction::inbound)
    call.did = st.cfg.did;
  return call;
}

// -- session supervision ------------------------------------------------------

void spawn_session(calls_ptr self) {
  auto& st = self->state;
  st.restart_scheduled = false;
  if (!st.make_session || !st.cfg.enabled())
    return;
  st.session = st.make_session(self->system());
  if (st.session)
    self->monitor(st.session);
}

std::string normalized_number(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c)))
      out.push_back(c);
    else if (c == '+' && out.empty())
      out.push_back(c);
  }
  return out;
}

// -- handlers -----------------------------------------------------------------

caf::result<ucid_reply> handle_dial(calls_ptr self,
                                    const ozonetel_dial_request& req) {
  auto& st = self->state;
  auto number = normalized_number(req.phone_number);
  auto digits = std::count_if(number.begin(), number.end(),
                              [](char c) { return c != '+'; });
  if (digits < 3 || digits > 20)
    return make_reply(ucid_reply_code::invalid,
                      "phone_number needs 3 to 20 digits");
  if (!st.cfg.enabled() || !st.session)
    return make_reply(ucid_reply_code::unavailable,
                      "no Ozonetel account configured (ozonetel.account, "
                      "ozonetel.api_key)");
  if (st.dial_in_flight)
    return make_reply(ucid_reply_code::conflict,
                      "another dial is being placed");
  if (auto* pending = pending_call(self)) {
    auto reply = make_reply(ucid_reply_code::conflict,
                            "a dial is still waiting for its bridge (expires "
                            "after ozonetel.pending_outbound_seconds)",
                            pending);
    return reply;
  }
  st.dial_in_flight = true;
  auto rp = self->make_response_promise<ucid_reply>();
  auto customer_id = req.customer_id;
  self->request(st.session, session_timeout(self), dial_atom_v, number)
      .then(
          [self, rp, number, customer_id](ozonetel_answer& answer) mutable {
            auto& st = self->state;
            st.dial_in_flight = false;
            if (!answer.done()) {
              auto reply = make_reply(failure_code(answer),
                                      "CloudAgent did not place the dial: "
                                          + answer.message);
              reply.cloudagent = std::move(answer);
              rp.deliver(std::move(reply));
              return;
            }
            if (answer.ucid.empty()) {
              // Without a UCID the call cannot be followed (SPEC failure 3).
              sb::log::error(log_name, "dial answer without UCID",
                             {{"answer", answer.raw}});
              auto reply
                  = make_reply(ucid_reply_code::upstream,
                               "CloudAgent placed the dial but returned no "
                               "UCID");
              reply.cloudagent = std::move(answer);
              rp.deliver(std::move(reply));
              return;
            }
            auto at = now_micros();
            auto& call
                = create_call(self, answer.ucid, call_direction::outbound,
                              ucid_call_phase::dialing, at);
            call.external_number = number;
            call.customer_id = customer_id;
            auto generation = st.next_generation++;
            st.pending = ucid_calls_state::pending_outbound{
                call.ucid, call.agent_id, generation};
            auto lifetime = duration_cast<caf::timespan>(duration<double>{
                std::max(0.0, st.cfg.pending_outbound_seconds)});
            self->delayed_send(self, lifetime, expire_atom_v, call.ucid,
                               generation);
            sb::log::info(log_name, "dial placed", {{"ucid", call.ucid}});
            auto reply = make_reply(ucid_reply_code::ok, answer.message, &call);
            reply.cloudagent = std::move(answer);
            rp.deliver(std::move(reply));
          },
          [self, rp](caf::error& err) mutable {
            self->state.dial_in_flight = false;
            rp.deliver(make_reply(ucid_reply_code::unavailable,
                                  "no answer from the Ozonetel session: "
                                      + to_string(err)));
          });
  return rp;
}

ucid_reply handle_browser(calls_ptr self, const browser_call_event& ev) {
  auto& st = self->state;
  auto event = ev.event;
  auto at = ev.at > 0 ? ev.at : now_micros();
  auto* call = find_call(self, ev.ucid);
  if (!call)
    call = find_call(self, ev.x_ucid);
  if (!call) {
    auto key = !ev.x_ucid.empty() ? ev.x_ucid : ev.ucid;
    if (!key.empty()) {
      // A UCID we did not dial is a call CloudAgent routed to the agent:
      // inbound, whatever dial may be pending (the pending dial's bridge
      // carries the dial's own UCID).
      call = &create_call(self, key, call_direction::inbound,
                          ucid_call_phase::ringing, at);
      call->ringing_at = at;
      call->external_number = ev.caller;
      sb::log::info(log_name, "inbound call", {{"ucid", key}});
    } else if (auto* dialed = pending_call(self)) {
      // A leg without any UCID while our dial waits for its bridge: the
      // bridge (the flag is bound to this one dial and expires).
      call = dialed;
    } else {
      return make_reply(ucid_reply_code::invalid,
                        "the call has no UCID (X-UCID) and no outbound dial "
                        "is pending");
    }
  }
  if (call->external_number.empty() && !ev.caller.empty())
    call->external_number = ev.caller;
  if (event == browser_event::ringing) {
    if (call->phase == ucid_call_phase::dialing) {
      call->phase = ucid_call_phase::ringing;
      call->ringing_at = at;
    }
  } else if (event == browser_event::answered) {
    if (call->phase == ucid_call_phase::dialing
        || call->phase == ucid_call_phase::ringing) {
      call->phase = ucid_call_phase::answered;
      call->answered = true;
      call->answered_at = at;
    }
    clear_pending_if(self, call->ucid, "bridge answered");
  } else {
    if (event == browser_event::failed && !call->answered)
      call->unanswered_outcome = call_disposition::failed;
    clear_pending_if(self, call->ucid,
                     event == browser_event::failed ? "call failed"
                                                    : "call ended");
    end_call(self, *call, at);
  }
  (void)st;
  return make_reply(ucid_reply_code::ok, {}, call);
}

caf::result<ucid_reply> handle_dispose(calls_ptr self,
                                       const ozonetel_dispose_request& req) {
  auto& st = self->state;
  auto* call = find_call(self, req.ucid);
  if (!call)
    return make_reply(ucid_reply_code::not_found,
                      "no call with UCID " + req.ucid
                          + " (dial, events or callback first)");
  auto campaign = campaign_disposition(st.cfg, req.disposition);
  if (!campaign)
    return make_reply(ucid_reply_code::invalid,
                      "unknown disposition '" + req.disposition
                          + "': use APPOINTMENT_BOOKED, FOLLOW_UP_SCHEDULED, "
                            "INFO_PROVIDED, NO_ANSWER, WRONG_NUMBER, "
                            "CALLBACK_REQUESTED, NOT_INTERESTED or a campaign "
                            "disposition from ozonetel.disposition_map");
  switch (call->progress) {
    case disposition_progress::done:
    case disposition_progress::failed:
      return make_reply(ucid_reply_code::conflict,
                        "the call is already disposed as '"
                            + call->campaign_disposition + "'",
                        call);
    case disposition_progress::sending:
    case disposition_progress::retrying:
      return make_reply(ucid_reply_code::conflict,
                        "a disposition ('" + call->campaign_disposition
                            + "') is already being set for this call",
                        call);
    default:
      break;
  }
  if (call->phase == ucid_call_phase::missed
      || call->phase == ucid_call_phase::ended)
    return make_reply(ucid_reply_code::conflict,
                      "the call needs no disposition (it never reached the "
                      "agent's after-call work)",
                      call);
  call->disposition_name = req.disposition;
  call->campaign_disposition = *campaign;
  call->notes = req.notes;
  call->callback_time = req.callback_time;
  call->automatic = false;
  auto rp = self->make_response_promise<ucid_reply>();
  send_disposition(self, call->ucid, rp);
  return rp;
}

ucid_reply handle_callback(calls_ptr self, const ozonetel_call_details& d) {
  auto& st = self->state;
  if (d.ucid.empty())
    return make_reply(ucid_reply_code::invalid,
                      "the callback carries no monitorUCID");
  auto received = d.received_at > 0 ? d.received_at : now_micros();
  auto* call = find_call(self, d.ucid);
  if (!call) {
    // CloudAgent calls after the call: its end is (about) now, its start
    // `Duration` earlier. The account's time zone is not needed this way.
    auto started = received - d.duration_seconds * 1000000;
    call = &create_call(self, d.ucid,
                        d.inbound ? call_direction::inbound
                                  : call_direction::outbound,
                        ucid_call_phase::ringing, started);
    call->agent_id = d.agent_id;
    call->did.clear();
    sb::log::info(log_name, "call known from the callback only",
                  {{"ucid", d.ucid}, {"type", d.type}, {"status", d.status}});
  }
  if (call->external_number.empty())
    call->external_number = d.caller_id;
  if (!d.did.empty())
    call->did = d.did;
  if (!d.campaign.empty())
    call->campaign = d.campaign;
  if (call->agent_id.empty())
    call->agent_id = d.agent_id;
  call->callback_seen = true;
  call->callback_duration_seconds = d.duration_seconds;
  call->callback_talk_seconds = d.call_duration_seconds;
  if (d.answered && !call->answered) {
    call->answered = true;
    auto end = live(call->phase) ? received : call->ended_at;
    call->answered_at = end - d.call_duration_seconds * 1000000;
  }
  if (!d.answered && !call->answered) {
    auto dial_status = lower(d.dial_status);
    if (dial_status.find("busy") != std::string::npos)
      call->unanswered_outcome = call_disposition::busy;
    else if (dial_status.find("fail") != std::string::npos
             || dial_status.find("invalid") != std::string::npos
             || dial_status.find("congestion") != std::string::npos)
      call->unanswered_outcome = call_disposition::failed;
  }
  if (!d.disposition.empty() && call->progress == disposition_progress::none) {
    // Disposed in CloudAgent's own toolbar: nothing left for us to send.
    call->progress = disposition_progress::done;
    call->disposed_elsewhere = true;
    call->campaign_disposition = d.disposition;
  }
  if (live(call->phase)) {
    end_call(self, *call, received);
  } else if (call->phase == ucid_call_phase::acw
             && call->progress == disposition_progress::done) {
    settle_after_disposition(self, *call);
  } else if (terminal(call->phase) && call->emitted > 0) {
    // The entry went out at the disposition: send the callback's details
    // too; the writer merges them into the same row (source + UCID).
    emit(self, *call);
  }
  (void)st;
  return make_reply(ucid_reply_code::ok, {}, call);
}

const ucid_call* current_call(calls_ptr self) {
  auto& st = self->state;
  const ucid_call* best = nullptr;
  auto rank = [](ucid_call_phase p) {
    switch (p) {
      case ucid_call_phase::answered:
        return 4;
      case ucid_call_phase::ringing:
        return 3;
      case ucid_call_phase::dialing:
        return 2;
      case ucid_call_phase::acw:
        return 1;
      default:
        return 0;
    }
  };
  for (auto& [ucid, call] : st.calls) {
    if (call.agent_id != st.cfg.agent_id || rank(call.phase) == 0)
      continue;
    if (!best || rank(call.phase) > rank(best->phase)
        || (rank(call.phase) == rank(best->phase)
            && call.created_at > best->created_at))
      best = &call;
  }
  return best;
}

live_call to_live(calls_ptr self, const ucid_call& call) {
  live_call l;
  l.source = "ozonetel";
  l.id = call.ucid;
  l.origin = self->state.cfg.account;
  l.direction = to_string(call.direction);
  l.state = to_string(call.phase);
  l.external_number = call.external_number;
  l.extension = call.agent_id;
  l.started_at = call.created_at;
  l.answered_at = call.answered ? call.answered_at : 0;
  return l;
}

std::vector<std::string> awaiting_disposition(calls_ptr self) {
  std::vector<std::string> out;
  for (auto& [ucid, call] : self->state.calls)
    if (call.phase == ucid_call_phase::acw
        && call.agent_id == self->state.cfg.agent_id)
      out.push_back(ucid);
  std::sort(out.begin(), out.end());
  return out;
}

ozonetel_agent_view agent_view(calls_ptr self) {
  auto& st = self->state;
  ozonetel_agent_view view;
  view.agent_id = st.cfg.agent_id;
  if (auto* call = current_call(self))
    view.current_call = to_live(self, *call);
  if (st.pending)
    view.pending_outbound = st.pending->ucid;
  view.awaiting_disposition = awaiting_disposition(self);
  return view;
}

/// Sets the live-calls gauge when a handler is done, whatever it changed.
class live_calls_refresh {
public:
  explicit live_calls_refresh(calls_ptr self) noexcept : self_(self) {}
  ~live_calls_refresh() {
    auto& calls = self_->state.calls;
    auto n = std::count_if(calls.begin(), calls.end(), [](const auto& kv) {
      return live(kv.second.phase);
    });
    self_->state.live_calls->set(static_cast<double>(n));
  }
  live_calls_refresh(const live_calls_refresh&) = delete;
  live_calls_refresh& operator=(const live_calls_refresh&) = delete;

private:
  calls_ptr self_;
};

void sweep(calls_ptr self) {
  auto& st = self->state;
  auto now = now_micros();
  auto retention
      = duration_cast<microseconds>(st.opts.finished_retention).count();
  auto max_age = duration_cast<microseconds>(st.opts.max_call_age).count();
  std::vector<std::string> forget;
  for (auto& [ucid, call] : st.calls) {
    if (terminal(call.phase)) {
      if (now - call.finished_at > retention)
        forget.push_back(ucid);
    } else if (live(call.phase) && now - call.created_at > max_age) {
      sb::log::warning(log_name, "call never ended, closing it",
                       {{"ucid", ucid}, {"state", to_string(call.phase)}});
      call.incomplete = true;
      end_call(self, call, now);
    }
  }
  for (auto& ucid : forget)
    st.calls.erase(ucid);
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
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.opts = opts;
  st.matcher = std::move(matcher);
  st.make_session = std::move(make_session);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (!st.session || msg.source != st.session.address())
      return;
    st.session = nullptr;
    ++st.session_restarts;
    sb::metrics::global().actor("ozonetel_session").restarts->inc();
    auto delay = doubling(st.opts.restart_initial, st.opts.restart_max,
                          st.session_restarts);
    sb::log::error(log_name, "Ozonetel session stopped, respawning",
                   {{"reason", to_string(msg.reason)},
                    {"restart_in_ms", std::to_string(delay.count())}});
    if (!st.restart_scheduled) {
      st.restart_scheduled = true;
      self->delayed_send(self, delay, restart_atom_v);
    }
  });
  spawn_session(self);
  self->delayed_send(self, st.opts.sweep_interval, sweep_atom_v);
  return {
      [=](dial_atom,
          const ozonetel_dial_request& req) -> caf::result<ucid_reply> {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        return handle_dial(self, req);
      },
      [=](browser_atom, const browser_call_event& ev) -> ucid_reply {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        return handle_browser(self, ev);
      },
      [=](dispose_atom,
          const ozonetel_dispose_request& req) -> caf::result<ucid_reply> {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        return handle_dispose(self, req);
      },
      [=](callback_atom, const ozonetel_call_details& d) -> ucid_reply {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        return handle_callback(self, d);
      },
      [=](agent_state_atom) -> caf::result<ozonetel_agent_view> {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        auto& st = self->state;
        if (!st.session) {
          auto view = agent_view(self);
          view.cloudagent.api = "AgentDetails";
          view.cloudagent.outcome = ozonetel_outcome::unavailable;
          view.cloudagent.message = st.cfg.enabled()
                                        ? "the Ozonetel session is not running"
                                        : "no Ozonetel account configured";
          return view;
        }
        auto rp = self->make_response_promise<ozonetel_agent_view>();
        self->request(st.session, session_timeout(self), agent_state_atom_v)
            .then(
                [self, rp](ozonetel_answer& answer) mutable {
                  // Our view is taken when CloudAgent's answer arrives, so both
                  // describe the same moment.
                  auto view = agent_view(self);
                  view.cloudagent = std::move(answer);
                  rp.deliver(std::move(view));
                },
                [self, rp](caf::error& err) mutable {
                  auto view = agent_view(self);
                  view.cloudagent.api = "AgentDetails";
                  view.cloudagent.outcome = ozonetel_outcome::unavailable;
                  view.cloudagent.message
                      = "no answer from the Ozonetel session: "
                        + to_string(err);
                  rp.deliver(std::move(view));
                });
        return rp;
      },
      [=](agent_state_atom, const std::string& state,
          const std::string& pause_reason) -> caf::result<ucid_reply> {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        auto& st = self->state;
        auto wanted = lower(state);
        if (wanted != "ready" && wanted != "pause")
          return make_reply(ucid_reply_code::invalid,
                            "state must be Ready or Pause");
        wanted = wanted == "ready" ? "Ready" : "Pause";
        if (wanted == "Ready") {
          // SPEC failure 5: never show Ready while CloudAgent still holds the
          // seat in after-call work for one of our calls.
          auto waiting = awaiting_disposition(self);
          if (!waiting.empty())
            return make_reply(ucid_reply_code::conflict,
                              "call " + waiting.front()
                                  + " is in after-call work: dispose it first "
                                    "(POST /api/ozonetel/dispose)",
                              find_call(self, waiting.front()));
        }
        if (!st.session)
          return make_reply(ucid_reply_code::unavailable,
                            st.cfg.enabled()
                                ? "the Ozonetel session is not running"
                                : "no Ozonetel account configured");
        auto rp = self->make_response_promise<ucid_reply>();
        self->request(st.session, session_timeout(self), agent_state_atom_v,
                      wanted, pause_reason)
            .then(
                [rp](ozonetel_answer& answer) mutable {
                  auto code = ucid_reply_code::ok;
                  std::string message = answer.message;
                  if (!answer.done()) {
                    auto text = lower(answer.message);
                    code = text.find("acw") != std::string::npos
                                   || text.find("busy") != std::string::npos
                               ? ucid_reply_code::conflict
                               : failure_code(answer);
                    message = "CloudAgent did not change the state: "
                              + answer.message;
                  }
                  auto reply = make_reply(code, message);
                  reply.state = answer.agent_state;
                  reply.cloudagent = std::move(answer);
                  rp.deliver(std::move(reply));
                },
                [rp](caf::error& err) mutable {
                  rp.deliver(make_reply(ucid_reply_code::unavailable,
                                        "no answer from the Ozonetel session: "
                                            + to_string(err)));
                });
        return rp;
      },
      [=](active_atom) -> std::vector<live_call> {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        std::vector<live_call> out;
        // After-call work is over for the line: only calls still up count.
        for (auto& [ucid, call] : self->state.calls)
          if (live(call.phase))
            out.push_back(to_live(self, call));
        std::sort(out.begin(), out.end(),
                  [](const live_call& a, const live_call& b) {
                    return a.started_at < b.started_at;
                  });
        return out;
      },
      [=](expire_atom, const std::string& ucid, uint64_t generation) {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        auto& st = self->state;
        if (st.pending && st.pending->ucid == ucid
            && st.pending->generation == generation) {
          sb::log::info(log_name, "outbound pending expired", {{"ucid", ucid}});
          st.pending = caf::none;
        }
      },
      [=](acw_atom, const std::string& ucid, uint64_t generation) {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        auto* call = find_call(self, ucid);
        if (!call || call->acw_generation != generation
            || call->phase != ucid_call_phase::acw
            || call->progress != disposition_progress::none)
          return;
        auto& cfg = self->state.cfg;
        // An unanswered call gets NO_ANSWER when the campaign maps it; anything
        // else the campaign's default.
        auto no_answer = cfg.disposition_map.find("NO_ANSWER");
        if (!call->answered && no_answer != cfg.disposition_map.end()) {
          call->disposition_name = "NO_ANSWER";
          call->campaign_disposition = no_answer->second;
        } else {
          call->disposition_name.clear();
          call->campaign_disposition = cfg.default_disposition;
        }
        call->automatic = true;
        sb::log::info(
            log_name, "no disposition in time, sending the default",
            {{"ucid", ucid}, {"disposition", call->campaign_disposition}});
        send_disposition(self, ucid, caf::none);
      },
      [=](retry_atom, const std::string& ucid) {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        auto* call = find_call(self, ucid);
        if (call && call->progress == disposition_progress::retrying)
          send_disposition(self, ucid, caf::none);
      },
      [=](restart_atom) {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        if (!self->state.session)
          spawn_session(self);
      },
      [=](sweep_atom) {
        sb::metrics::message_probe probe{*self->state.metrics,
                                         self->mailbox().size()};
        live_calls_refresh refresh{self};
        sweep(self);
        self->delayed_send(self, self->state.opts.sweep_interval, sweep_atom_v);
      },
  };
}

} // namespace sb
