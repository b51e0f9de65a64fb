// The call book's other inputs: CloudAgent's own real-time events (Subscribe
// API) and the calls reloaded from the database after a restart.

#include <algorithm>
#include <utility>

#include "core/strings.hpp"
#include "domain/ozonetel_call_book.hpp"

namespace sb {

namespace {

constexpr int64_t micros_per_second = 1000000;

bool mentions(const std::string& text, const char* word) {
  return lower(text).find(word) != std::string::npos;
}

/// Calling < Answered < Disconnect; 0 for anything else (ignored).
int event_rank(const std::string& action) {
  if (mentions(action, "disconnect") || mentions(action, "hangup")
      || mentions(action, "end"))
    return 3;
  if (mentions(action, "answer"))
    return 2;
  if (mentions(action, "calling") || mentions(action, "ring")
      || mentions(action, "offer"))
    return 1;
  return 0;
}

} // namespace

ucid_reply ozonetel_call_book::on_call_event(const ozonetel_call_event& ev,
                                             unix_micros now,
                                             call_effects& out) {
  // The monitor UCID names the whole call (as in the callback); the leg's
  // own UCID is the fallback.
  auto key = !ev.monitor_ucid.empty() ? ev.monitor_ucid : ev.ucid;
  if (key.empty())
    return make_reply(ucid_reply_code::invalid,
                      "the event carries no ucid / monitor_ucid");
  auto rank = event_rank(ev.action);
  if (rank == 0)
    return make_reply(ucid_reply_code::ok,
                      "action '" + ev.action + "' does not move a call");
  auto at = ev.event_time > 0 ? ev.event_time : now;
  auto* call = find_mutable(key);
  if (!call && key != ev.ucid)
    call = find_mutable(ev.ucid);
  if (!call) {
    auto inbound = mentions(ev.call_type, "inbound");
    call = &create(key,
                   inbound ? call_direction::inbound : call_direction::outbound,
                   ucid_call_phase::ringing, at, ev.agent_id);
    call->ringing_at = at;
    if (!ev.did.empty())
      call->did = ev.did;
    out.notices.push_back(
        make_notice(call_notice_kind::inbound_call, key, "event"));
  }
  call->events_seen = true;
  if (call->agent_id.empty())
    call->agent_id = ev.agent_id;
  if (call->external_number.empty())
    call->external_number = normalized_number(ev.caller_id);
  if (call->did.empty() && call->direction == call_direction::inbound)
    call->did = ev.did;
  // Never backwards: each action only moves a call that has not passed it.
  if (rank == 1) {
    if (call->phase == ucid_call_phase::dialing) {
      call->phase = ucid_call_phase::ringing;
      call->ringing_at = at;
    }
  } else if (rank == 2) {
    answer_call(*call, at, out);
  } else if (live(call->phase)) {
    clear_pending_if(call->ucid, "call ended", out);
    end_call(*call, at, now, out);
  }
  return make_reply(ucid_reply_code::ok, {}, call);
}

void ozonetel_call_book::on_agent_event(const ozonetel_agent_event& ev,
                                        unix_micros now) {
  if (ev.agent_id.empty() || ev.state.empty())
    return;
  auto at = ev.event_time > 0 ? ev.event_time : now;
  auto& word = agent_states_[ev.agent_id];
  // A late event (older than the word we have) is history, not news.
  if (word.at > at)
    return;
  word.state = ev.state;
  word.at = at;
}

void ozonetel_call_book::restore(ucid_call call) {
  next_generation_ = std::max(next_generation_, call.acw_generation + 1);
  auto ucid = call.ucid;
  calls_[ucid] = std::move(call);
}

void ozonetel_call_book::resume(unix_micros now, call_effects& out) {
  auto acw_timeout = static_cast<int64_t>(
      std::max(0.0, cfg_.acw_timeout_seconds) * micros_per_second);
  for (auto& [ucid, call] : calls_) {
    if (call.phase != ucid_call_phase::acw && !live(call.phase))
      continue;
    switch (call.progress) {
      case disposition_progress::sending:
        // It may or may not have reached CloudAgent before we stopped:
        // sending it again is safe ("This call is already Disposed." is
        // done, not an error), leaving it stranded is not.
        send_disposition(call, out);
        break;
      case disposition_progress::retrying:
        out.timers.push_back({call_timer_kind::retry, ucid, 0,
                              std::max(now, call.retry_due)});
        break;
      case disposition_progress::none:
        if (call.phase == ucid_call_phase::acw) {
          auto started = call.acw_started_at > 0 ? call.acw_started_at
                                                 : call.ended_at;
          call.acw_generation = next_generation_++;
          touch(ucid);
          auto due = started + acw_timeout;
          if (due <= now)
            on_acw_timeout(ucid, call.acw_generation, out);
          else
            out.timers.push_back(
                {call_timer_kind::acw, ucid, call.acw_generation, due});
        }
        break;
      default:
        break;
    }
  }
}

std::vector<std::string> ozonetel_call_book::unconfirmed_entries() const {
  std::vector<std::string> out;
  for (auto& [ucid, call] : calls_)
    if (call.emitted > call.entries_confirmed)
      out.push_back(ucid);
  std::sort(out.begin(), out.end());
  return out;
}

void ozonetel_call_book::confirm_entries(const std::string& ucid) {
  auto* call = find_mutable(ucid);
  if (call == nullptr || call->entries_confirmed == call->emitted)
    return;
  call->entries_confirmed = call->emitted;
  touch(ucid);
}

std::vector<std::string> ozonetel_call_book::take_changed() {
  std::vector<std::string> out{changed_.begin(), changed_.end()};
  changed_.clear();
  return out;
}

std::vector<std::string> ozonetel_call_book::take_forgotten() {
  std::vector<std::string> out{forgotten_.begin(), forgotten_.end()};
  forgotten_.clear();
  return out;
}

void ozonetel_call_book::flush_dispositions(const std::string& agent_id,
                                            call_effects& out) {
  for (auto& ucid : awaiting_disposition(agent_id)) {
    auto& call = calls_.at(ucid);
    if (call.progress == disposition_progress::retrying)
      send_disposition(call, out);
    else if (call.progress == disposition_progress::none)
      on_acw_timeout(ucid, call.acw_generation, out);
  }
}

size_t ozonetel_call_book::pending_dispositions() const {
  return static_cast<size_t>(
      std::count_if(calls_.begin(), calls_.end(), [](const auto& kv) {
        return kv.second.progress == disposition_progress::sending
               || kv.second.progress == disposition_progress::retrying;
      }));
}

} // namespace sb
