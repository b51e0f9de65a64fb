#include "domain/ozonetel_call_book.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include "core/enum_names.hpp"
#include "core/strings.hpp"

namespace sb {

namespace {

constexpr const char* phase_names[]
    = {"dialing", "ringing", "answered", "ended", "acw", "disposed", "missed"};


constexpr int64_t micros_per_second = 1000000;

/// Configured seconds (fractions allowed, negative = 0) as micros.
int64_t config_micros(double seconds) {
  return static_cast<int64_t>(std::max(0.0, seconds) * micros_per_second);
}


template <class Duration>
int64_t to_micros(Duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

} // namespace

const char* to_string(ucid_call_phase x) noexcept {
  return enum_name(phase_names, x);
}

bool from_string(std::string_view s, ucid_call_phase& x) noexcept {
  return enum_from_name(phase_names, s, x);
}

bool terminal(ucid_call_phase p) noexcept {
  return p == ucid_call_phase::ended || p == ucid_call_phase::disposed
         || p == ucid_call_phase::missed;
}

bool live(ucid_call_phase p) noexcept {
  return p == ucid_call_phase::dialing || p == ucid_call_phase::ringing
         || p == ucid_call_phase::answered;
}

// -- the book: bookkeeping ----------------------------------------------------

ozonetel_call_book::ozonetel_call_book(ozonetel_config cfg,
                                       call_book_timing timing)
    : cfg_(std::move(cfg)), timing_(timing) {}

const ucid_call* ozonetel_call_book::find(const std::string& ucid) const {
  if (ucid.empty())
    return nullptr;
  auto i = calls_.find(ucid);
  return i == calls_.end() ? nullptr : &i->second;
}

ucid_call* ozonetel_call_book::find_mutable(const std::string& ucid) {
  auto* call = const_cast<ucid_call*>(std::as_const(*this).find(ucid));
  // Whoever looks a call up to change it: store it after this input.
  if (call)
    touch(ucid);
  return call;
}

void ozonetel_call_book::touch(const std::string& ucid) {
  changed_.insert(ucid);
  forgotten_.erase(ucid);
}

ucid_call& ozonetel_call_book::create(const std::string& ucid,
                                      call_direction direction,
                                      ucid_call_phase phase, unix_micros at,
                                      const std::string& agent_id) {
  auto& call = calls_[ucid];
  touch(ucid);
  call.ucid = ucid;
  call.direction = direction;
  call.phase = phase;
  call.agent_id = agent_id;
  call.campaign = cfg_.campaign;
  call.created_at = at;
  if (direction == call_direction::inbound)
    call.did = cfg_.did;
  return call;
}

ucid_call* ozonetel_call_book::pending_call(const std::string& agent_id) {
  auto i = pending_.find(agent_id);
  if (i == pending_.end())
    return nullptr;
  return find_mutable(i->second.ucid);
}

void ozonetel_call_book::clear_pending_if(const std::string& ucid,
                                          const char* why, call_effects& out) {
  auto* call = find(ucid);
  auto i = call ? pending_.find(call->agent_id) : pending_.end();
  if (i == pending_.end() || i->second.ucid != ucid)
    return;
  pending_.erase(i);
  out.notices.push_back(
      make_notice(call_notice_kind::pending_cleared, ucid, why));
}

bool ozonetel_call_book::needs_disposition(const ucid_call& call) const {
  // Only our agents' seats are ours to release; CloudAgent puts a seat in
  // after-call work after any answered call and after every manual dial.
  return known_agent(call.agent_id)
         && (call.answered || call.direction == call_direction::outbound);
}

void ozonetel_call_book::emit(ucid_call& call, unix_micros now,
                              call_effects& out) {
  if (call.finished_at == 0)
    call.finished_at = now;
  touch(call.ucid);
  ++call.emitted;
  out.entries.push_back({to_completed(call, cfg_.account), call.phase,
                         call.emitted > 1, call.campaign_disposition});
}

// -- the book: transitions ----------------------------------------------------

void ozonetel_call_book::settle_after_disposition(ucid_call& call,
                                                  unix_micros now,
                                                  call_effects& out) {
  if (call.phase == ucid_call_phase::acw) {
    call.phase = ucid_call_phase::disposed;
    emit(call, now, out);
  }
}

void ozonetel_call_book::send_disposition(ucid_call& call, call_effects& out) {
  call.progress = disposition_progress::sending;
  call.retry_due = 0;
  touch(call.ucid);
  ++call.disposition_attempts;
  out.dispositions.push_back({call.ucid, call.agent_id,
                              call.campaign_disposition, call.notes,
                              call.callback_time});
}

void ozonetel_call_book::start_acw(ucid_call& call, unix_micros now,
                                   call_effects& out) {
  call.phase = ucid_call_phase::acw;
  call.acw_started_at = now;
  touch(call.ucid);
  call.acw_generation = next_generation_++;
  out.timers.push_back({call_timer_kind::acw, call.ucid, call.acw_generation,
                        now + config_micros(cfg_.acw_timeout_seconds)});
}

void ozonetel_call_book::end_call(ucid_call& call, unix_micros at,
                                  unix_micros now, call_effects& out) {
  if (!live(call.phase))
    return;
  touch(call.ucid);
  call.ended_at = std::max(at, call.created_at);
  clear_pending_if(call.ucid, "call ended", out);
  if (call.progress == disposition_progress::done) {
    // Disposed while the call was up ("Disposition Queued Successfully").
    call.phase = ucid_call_phase::disposed;
    emit(call, now, out);
  } else if (call.progress == disposition_progress::sending
             || call.progress == disposition_progress::retrying) {
    call.phase = ucid_call_phase::acw;
    call.acw_started_at = now;
  } else if (needs_disposition(call)) {
    start_acw(call, now, out);
  } else {
    call.phase = call.answered || call.direction == call_direction::outbound
                     ? ucid_call_phase::ended
                     : ucid_call_phase::missed;
    emit(call, now, out);
  }
}

// -- the book: inputs ---------------------------------------------------------

caf::optional<ucid_reply>
ozonetel_call_book::begin_dial(const ozonetel_dial_request& req,
                               bool session_up, std::string& number) {
  return begin_dial(req, session_up, number, 0);
}

caf::optional<ucid_reply>
ozonetel_call_book::begin_dial(const ozonetel_dial_request& req,
                               bool session_up, std::string& number,
                               unix_micros now) {
  auto agent = agent_or_default(req.agent_id);
  number = normalized_number(req.phone_number);
  auto digits = std::count_if(number.begin(), number.end(),
                              [](char c) { return c != '+'; });
  if (digits < 3 || digits > 20)
    return make_reply(ucid_reply_code::invalid,
                      "phone_number needs 3 to 20 digits");
  if (!cfg_.enabled() || !session_up)
    return make_reply(ucid_reply_code::unavailable,
                      "no Ozonetel account configured (ozonetel.account, "
                      "ozonetel.api_key)");
  if (!known_agent(agent))
    return make_reply(ucid_reply_code::not_found,
                      agent.empty() ? "no agent named (agent_id) and no "
                                      "default agent (ozonetel.agent_id)"
                                    : "no agent " + agent
                                          + " (GET /api/ozonetel/agents)");
  if (dial_in_flight(agent))
    return make_reply(ucid_reply_code::conflict,
                      "another dial of agent " + agent + " is being placed");
  if (auto* pending = pending_call(agent))
    return make_reply(ucid_reply_code::conflict,
                      "a dial of agent " + agent
                          + " is still waiting for its bridge (expires "
                            "after ozonetel.pending_outbound_seconds)",
                      pending);
  dial_in_flight_[agent] = {number, now};
  return caf::none;
}

ucid_reply ozonetel_call_book::on_dial_answer(
    ozonetel_answer answer, const std::string& number,
    caf::optional<int64_t> customer_id, unix_micros now, call_effects& out) {
  return on_dial_answer(std::move(answer), cfg_.agent_id, number,
                        std::move(customer_id), now, out);
}

ucid_reply ozonetel_call_book::on_dial_answer(
    ozonetel_answer answer, const std::string& agent_id,
    const std::string& number, caf::optional<int64_t> customer_id,
    unix_micros now, call_effects& out) {
  auto agent = agent_or_default(agent_id);
  dial_in_flight_.erase(agent);
  if (!answer.done()) {
    auto reply
        = make_reply(failure_code(answer),
                     "CloudAgent did not place the dial: " + answer.message);
    reply.cloudagent = std::move(answer);
    return reply;
  }
  if (answer.ucid.empty()) {
    // Without a UCID the call cannot be followed.
    auto reply = make_reply(ucid_reply_code::upstream,
                            "CloudAgent placed the dial but returned no UCID");
    reply.cloudagent = std::move(answer);
    return reply;
  }
  if (auto* known = find_mutable(answer.ucid)) {
    // CloudAgent's Calling event outran its own answer: the same call.
    known->direction = call_direction::outbound;
    known->agent_id = agent;
    if (known->external_number.empty())
      known->external_number = number;
    if (!known->customer_id)
      known->customer_id = std::move(customer_id);
    auto reply = make_reply(ucid_reply_code::ok, answer.message, known);
    reply.cloudagent = std::move(answer);
    return reply;
  }
  auto& call = create(answer.ucid, call_direction::outbound,
                      ucid_call_phase::dialing, now, agent);
  call.external_number = number;
  call.customer_id = std::move(customer_id);
  auto generation = next_generation_++;
  pending_[agent]
      = pending_outbound{call.ucid, call.agent_id, generation, number, now};
  out.timers.push_back({call_timer_kind::pending_expiry, call.ucid, generation,
                        now + config_micros(cfg_.pending_outbound_seconds)});
  auto reply = make_reply(ucid_reply_code::ok, answer.message, &call);
  reply.cloudagent = std::move(answer);
  return reply;
}

ucid_reply ozonetel_call_book::on_browser(const browser_call_event& ev,
                                          unix_micros now, call_effects& out) {
  auto event = ev.event;
  auto at = ev.at > 0 ? ev.at : now;
  auto agent = agent_or_default(ev.agent_id);
  auto* call = find_mutable(ev.ucid);
  if (!call)
    call = find_mutable(ev.x_ucid);
  if (!call) {
    auto key = !ev.x_ucid.empty() ? ev.x_ucid : ev.ucid;
    if (!key.empty()) {
      // A UCID we did not dial is a call CloudAgent routed to the agent:
      // inbound, whatever dial may be pending (the pending dial's bridge
      // carries the dial's own UCID).
      call = &create(key, call_direction::inbound, ucid_call_phase::ringing,
                     at, agent);
      call->ringing_at = at;
      call->external_number = ev.caller;
      out.notices.push_back(make_notice(call_notice_kind::inbound_call, key));
    } else if (auto* dialed = pending_call(agent)) {
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
    answer_call(*call, at, out);
  } else {
    if (event == browser_event::failed && !call->answered)
      call->unanswered_outcome = call_disposition::failed;
    clear_pending_if(
        call->ucid,
        event == browser_event::failed ? "call failed" : "call ended", out);
    end_call(*call, at, now, out);
  }
  return make_reply(ucid_reply_code::ok, {}, call);
}

caf::optional<ucid_reply>
ozonetel_call_book::dispose(const ozonetel_dispose_request& req,
                            call_effects& out) {
  return dispose(req, 0, out);
}

void ozonetel_call_book::answer_call(ucid_call& call, unix_micros at,
                                     call_effects& out) {
  if (call.phase == ucid_call_phase::dialing
      || call.phase == ucid_call_phase::ringing) {
    touch(call.ucid);
    call.phase = ucid_call_phase::answered;
    call.answered = true;
    call.answered_at = at;
  }
  clear_pending_if(call.ucid, "bridge answered", out);
}

caf::optional<ucid_reply>
ozonetel_call_book::dispose(const ozonetel_dispose_request& req,
                            unix_micros now, call_effects& out) {
  auto* call = find_mutable(req.ucid);
  auto campaign = campaign_disposition(cfg_, req.disposition);
  if (!call && campaign) {
    auto agent = agent_or_default(req.agent_id);
    if (!known_agent(agent))
      return make_reply(ucid_reply_code::not_found,
                        "no agent " + agent + " (GET /api/ozonetel/agents)");
    // Switchboard never saw this call (the browser took its UCID from
    // X-UCID while we were down): the seat waits all the same. The entry
    // is built from what the request says; a callback or event merges in.
    auto direction = lower(req.direction) == "inbound"
                         ? call_direction::inbound
                         : call_direction::outbound;
    call = &create(req.ucid, direction, ucid_call_phase::answered, now, agent);
    call->external_number = normalized_number(req.caller_phone);
    call->answered = req.duration_seconds != 0;
    call->fallback_duration_seconds = req.duration_seconds;
    if (req.duration_seconds > 0)
      call->created_at = now - req.duration_seconds * micros_per_second;
    call->answered_at = call->created_at;
    call->ended_at = now;
    call->phase = ucid_call_phase::acw;
    call->acw_started_at = now;
    out.notices.push_back(
        make_notice(call_notice_kind::inbound_call, req.ucid, "dispose"));
  }
  if (!call)
    return make_reply(ucid_reply_code::invalid,
                      "unknown disposition '" + req.disposition
                          + "': use APPOINTMENT_BOOKED, FOLLOW_UP_SCHEDULED, "
                            "INFO_PROVIDED, NO_ANSWER, WRONG_NUMBER, "
                            "CALLBACK_REQUESTED, NOT_INTERESTED or a campaign "
                            "disposition from ozonetel.disposition_map");
  if (!req.agent_id.empty() && call->agent_id != req.agent_id
      && known_agent(call->agent_id))
    return make_reply(ucid_reply_code::conflict,
                      "call " + req.ucid + " belongs to agent "
                          + call->agent_id,
                      call);
  if (call->agent_id.empty())
    call->agent_id = agent_or_default(req.agent_id);
  if (!req.lead_id.empty())
    call->crm_ref = req.lead_id;
  if (call->external_number.empty())
    call->external_number = normalized_number(req.caller_phone);
  if (call->fallback_duration_seconds < 0)
    call->fallback_duration_seconds = req.duration_seconds;
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
  send_disposition(*call, out);
  return caf::none;
}

ucid_reply ozonetel_call_book::on_callback(const ozonetel_call_details& d,
                                           unix_micros now, call_effects& out) {
  if (d.ucid.empty())
    return make_reply(ucid_reply_code::invalid,
                      "the callback carries no monitorUCID");
  auto received = d.received_at > 0 ? d.received_at : now;
  auto* call = find_mutable(d.ucid);
  if (!call) {
    // CloudAgent calls after the call: its end is (about) now, its start
    // `Duration` earlier. The account's time zone is not needed this way.
    auto started = d.started_at > 0
                       ? d.started_at
                       : received - d.duration_seconds * micros_per_second;
    call = &create(
        d.ucid, d.inbound ? call_direction::inbound : call_direction::outbound,
        ucid_call_phase::ringing, started, d.agent_id);
    call->agent_id = d.agent_id;
    call->did.clear();
    out.notices.push_back(make_notice(call_notice_kind::callback_only_call,
                                      d.ucid, d.type, d.status));
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
  if (d.started_at > 0)
    call->created_at = d.started_at;
  if (!d.audio_file.empty())
    call->recording = d.audio_file;
  call->callback_duration_seconds = d.duration_seconds;
  call->callback_talk_seconds = d.call_duration_seconds;
  if (d.answered && !call->answered) {
    call->answered = true;
    auto end = live(call->phase) ? received : call->ended_at;
    call->answered_at = end - d.call_duration_seconds * micros_per_second;
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
    end_call(*call, d.ended_at > 0 ? d.ended_at : received, now, out);
  } else if (call->phase == ucid_call_phase::acw
             && call->progress == disposition_progress::done) {
    settle_after_disposition(*call, now, out);
  } else if (terminal(call->phase) && call->emitted > 0) {
    // The entry went out at the disposition: send the callback's details
    // too; the writer merges them into the same row (source + UCID).
    emit(*call, now, out);
  }
  return make_reply(ucid_reply_code::ok, {}, call);
}

ucid_reply ozonetel_call_book::on_disposition_answer(const std::string& ucid,
                                                     ozonetel_answer answer,
                                                     unix_micros now,
                                                     call_effects& out) {
  auto* call = find_mutable(ucid);
  if (!call)
    return make_reply(ucid_reply_code::not_found,
                      "the call was forgotten meanwhile");
  call->disposition_answer = answer.message;
  if (answer.done()) {
    call->progress = disposition_progress::done;
    auto notice
        = make_notice(call_notice_kind::disposition_set, ucid,
                      call->campaign_disposition, to_string(answer.outcome));
    notice.automatic = call->automatic;
    out.notices.push_back(std::move(notice));
    settle_after_disposition(*call, now, out);
    auto reply = make_reply(answer.outcome == ozonetel_outcome::accepted
                                ? ucid_reply_code::accepted
                                : ucid_reply_code::ok,
                            answer.message, call);
    reply.cloudagent = std::move(answer);
    return reply;
  }
  if (answer.transient()) {
    // CloudAgent is down or out of tokens: keep the disposition and try
    // again; it is never dropped.
    call->progress = disposition_progress::retrying;
    auto delay = doubling_delay(timing_.retry_initial, timing_.retry_max,
                                call->disposition_attempts);
    call->retry_due = now + to_micros(delay);
    out.timers.push_back(
        {call_timer_kind::retry, ucid, 0, now + to_micros(delay)});
    auto notice = make_notice(call_notice_kind::disposition_retry, ucid,
                              to_string(answer.outcome), answer.message);
    notice.delay_ms = delay.count();
    out.notices.push_back(std::move(notice));
    auto reply
        = make_reply(ucid_reply_code::accepted,
                     "CloudAgent did not take the disposition yet ("
                         + answer.message + "); switchboard keeps retrying",
                     call);
    reply.cloudagent = std::move(answer);
    return reply;
  }
  // CloudAgent refused this disposition.
  if (call->automatic) {
    if (call->campaign_disposition != cfg_.default_disposition) {
      call->campaign_disposition = cfg_.default_disposition;
      call->disposition_name.clear();
      send_disposition(*call, out);
      return make_reply(ucid_reply_code::accepted,
                        "CloudAgent refused the disposition; sending the "
                        "campaign default",
                        call);
    }
    call->progress = disposition_progress::failed;
    auto notice = make_notice(call_notice_kind::default_refused, ucid,
                              call->campaign_disposition, answer.message);
    notice.answer = answer.raw;
    out.notices.push_back(std::move(notice));
    if (call->phase == ucid_call_phase::acw) {
      call->phase = ucid_call_phase::ended;
      emit(*call, now, out);
    }
    auto reply = make_reply(
        ucid_reply_code::upstream,
        "CloudAgent refused the default disposition: " + answer.message, call);
    reply.cloudagent = std::move(answer);
    return reply;
  }
  // The agent's choice was refused: they may choose again, and the ACW
  // timer still guarantees a default.
  call->progress = disposition_progress::none;
  call->campaign_disposition.clear();
  call->disposition_name.clear();
  auto reply = make_reply(
      ucid_reply_code::upstream,
      "CloudAgent refused the disposition: " + answer.message, call);
  reply.cloudagent = std::move(answer);
  return reply;
}

void ozonetel_call_book::on_acw_timeout(const std::string& ucid,
                                        uint64_t generation,
                                        call_effects& out) {
  auto* call = find_mutable(ucid);
  if (!call || call->acw_generation != generation
      || call->phase != ucid_call_phase::acw
      || call->progress != disposition_progress::none)
    return;
  // An unanswered call gets NO_ANSWER when the campaign maps it; anything
  // else the campaign's default.
  auto no_answer = cfg_.disposition_map.find("NO_ANSWER");
  if (!call->answered && no_answer != cfg_.disposition_map.end()) {
    call->disposition_name = "NO_ANSWER";
    call->campaign_disposition = no_answer->second;
  } else {
    call->disposition_name.clear();
    call->campaign_disposition = cfg_.default_disposition;
  }
  call->automatic = true;
  out.notices.push_back(make_notice(call_notice_kind::automatic_disposition,
                                    ucid, call->campaign_disposition));
  send_disposition(*call, out);
}

void ozonetel_call_book::on_timer(const call_timer& timer, unix_micros,
                                  call_effects& out) {
  switch (timer.kind) {
    case call_timer_kind::pending_expiry:
      for (auto i = pending_.begin(); i != pending_.end(); ++i)
        if (i->second.ucid == timer.ucid
            && i->second.generation == timer.generation) {
          pending_.erase(i);
          out.notices.push_back(
              make_notice(call_notice_kind::pending_expired, timer.ucid));
          break;
        }
      return;
    case call_timer_kind::acw:
      on_acw_timeout(timer.ucid, timer.generation, out);
      return;
    case call_timer_kind::retry:
      if (auto* call = find_mutable(timer.ucid);
          call && call->progress == disposition_progress::retrying)
        send_disposition(*call, out);
      return;
  }
}

void ozonetel_call_book::sweep(unix_micros now, call_effects& out) {
  auto retention = to_micros(timing_.finished_retention);
  auto max_age = to_micros(timing_.max_call_age);
  std::vector<std::string> forget;
  for (auto& [ucid, call] : calls_) {
    if (terminal(call.phase)) {
      if (now - call.finished_at > retention)
        forget.push_back(ucid);
    } else if (live(call.phase) && now - call.created_at > max_age) {
      out.notices.push_back(make_notice(call_notice_kind::never_ended, ucid,
                                        to_string(call.phase)));
      call.incomplete = true;
      end_call(call, now, now, out);
    }
  }
  for (auto& ucid : forget) {
    calls_.erase(ucid);
    changed_.erase(ucid);
    forgotten_.insert(ucid);
  }
}

} // namespace sb
