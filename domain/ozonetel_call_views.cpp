// What the CloudAgent call book shows: the comms-log entry a call becomes,
// the live call for GET /api/calls/active, and the agent's view (current
// call, calls awaiting a disposition).

#include <algorithm>
#include <string>
#include <vector>

#include "domain/ozonetel_call_book.hpp"

namespace sb {

namespace {

constexpr int64_t micros_per_second = 1000000;

int64_t seconds_between(unix_micros from, unix_micros to) {
  return from > 0 && to > from ? (to - from + 500000) / micros_per_second : 0;
}

} // namespace

// -- the comms-log entry ------------------------------------------------------

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

completed_call to_completed(const ucid_call& call, const std::string& account) {
  completed_call c;
  c.source = "ozonetel";
  c.ext_message_id = call.ucid;
  c.ucid = call.ucid;
  c.origin = account;
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
  c.duration_seconds = call.callback_duration_seconds > 0
                           ? call.callback_duration_seconds
                           : seconds_between(call.created_at, call.ended_at);
  if (c.duration_seconds == 0 && call.fallback_duration_seconds > 0)
    c.duration_seconds = call.fallback_duration_seconds;
  if (call.answered)
    c.talk_seconds = call.callback_talk_seconds > 0
                         ? call.callback_talk_seconds
                         : seconds_between(call.answered_at, call.ended_at);
  c.billsec = c.talk_seconds;
  c.notes = entry_notes(call);
  c.incomplete = call.incomplete;
  c.crm_ref = call.crm_ref;
  c.recording = call.recording;
  return c;
}

/// Only live phases are shown; an ended one (not shown) would be ending.
live_call_state live_state_of(ucid_call_phase phase) {
  switch (phase) {
    case ucid_call_phase::dialing:
      return live_call_state::dialing;
    case ucid_call_phase::ringing:
      return live_call_state::ringing;
    case ucid_call_phase::answered:
      return live_call_state::answered;
    default:
      return live_call_state::ending;
  }
}

live_call to_live(const ucid_call& call, const std::string& account) {
  live_call l;
  l.source = "ozonetel";
  l.id = call.ucid;
  l.origin = account;
  l.direction = call.direction;
  l.state = live_state_of(call.phase);
  l.external_number = call.external_number;
  l.extension = call.agent_id;
  l.started_at = call.created_at;
  l.answered_at = call.answered ? call.answered_at : 0;
  return l;
}

// -- the book: agents ---------------------------------------------------------

std::string
ozonetel_call_book::agent_or_default(const std::string& agent_id) const {
  return agent_id.empty() ? cfg_.agent_id : agent_id;
}

bool ozonetel_call_book::known_agent(const std::string& agent_id) const {
  return !agent_id.empty()
         && (agent_id == cfg_.agent_id || agents_.count(agent_id) > 0);
}

void ozonetel_call_book::set_agents(std::set<std::string> ids) {
  agents_ = std::move(ids);
}

caf::optional<ozonetel_call_book::pending_outbound>
ozonetel_call_book::pending() const {
  return pending(cfg_.agent_id);
}

caf::optional<ozonetel_call_book::pending_outbound>
ozonetel_call_book::pending(const std::string& agent_id) const {
  auto i = pending_.find(agent_id);
  if (i == pending_.end())
    return caf::none;
  return i->second;
}

bool ozonetel_call_book::dial_in_flight() const {
  return dial_in_flight(cfg_.agent_id);
}

bool ozonetel_call_book::dial_in_flight(const std::string& agent_id) const {
  return dial_in_flight_.count(agent_id) > 0;
}

void ozonetel_call_book::dial_failed(const std::string& agent_id) {
  dial_in_flight_.erase(agent_or_default(agent_id));
}

// -- the book: views ----------------------------------------------------------

const ucid_call* ozonetel_call_book::current_call() const {
  return current_call(cfg_.agent_id);
}

const ucid_call*
ozonetel_call_book::current_call(const std::string& agent_id) const {
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
  const ucid_call* best = nullptr;
  for (auto& [ucid, call] : calls_) {
    if (call.agent_id != agent_id || rank(call.phase) == 0)
      continue;
    if (!best || rank(call.phase) > rank(best->phase)
        || (rank(call.phase) == rank(best->phase)
            && call.created_at > best->created_at))
      best = &call;
  }
  return best;
}

std::vector<std::string> ozonetel_call_book::awaiting_disposition() const {
  return awaiting_disposition(cfg_.agent_id);
}

std::vector<std::string>
ozonetel_call_book::awaiting_disposition(const std::string& agent_id) const {
  std::vector<std::string> out;
  for (auto& [ucid, call] : calls_)
    if (call.phase == ucid_call_phase::acw && call.agent_id == agent_id)
      out.push_back(ucid);
  std::sort(out.begin(), out.end());
  return out;
}

ozonetel_agent_view ozonetel_call_book::agent_view() const {
  return agent_view(cfg_.agent_id);
}

ozonetel_agent_view
ozonetel_call_book::agent_view(const std::string& agent_id) const {
  ozonetel_agent_view view;
  view.agent_id = agent_id;
  view.known = known_agent(agent_id);
  if (auto i = agent_states_.find(agent_id); i != agent_states_.end()) {
    view.cloudagent_state = i->second.state;
    view.cloudagent_state_at = i->second.at;
  }
  auto* current = current_call(agent_id);
  if (current)
    view.current_call = to_live(*current, cfg_.account);
  if (auto p = pending_.find(agent_id); p != pending_.end()) {
    view.pending_outbound = p->second.ucid;
    view.pending_dial_number = p->second.number;
    view.pending_dial_since = p->second.since;
  } else if (auto d = dial_in_flight_.find(agent_id);
             d != dial_in_flight_.end()) {
    view.pending_dial_number = d->second.number;
    view.pending_dial_since = d->second.since;
  }
  for (auto& ucid : awaiting_disposition(agent_id)) {
    auto& call = calls_.at(ucid);
    view.awaiting_disposition.push_back(
        {ucid, call.external_number, call.ended_at});
  }
  // CloudAgent's word alone is not enough: a seat holding a call of ours
  // is not ready, whatever the last event said.
  view.ready = view.cloudagent_state == "ready" && current == nullptr
               && view.awaiting_disposition.empty()
               && view.pending_dial_number.empty();
  return view;
}

std::vector<live_call> ozonetel_call_book::live_calls() const {
  std::vector<live_call> out;
  // After-call work is over for the line: only calls still up count.
  for (auto& [ucid, call] : calls_)
    if (live(call.phase))
      out.push_back(to_live(call, cfg_.account));
  std::sort(out.begin(), out.end(), [](const live_call& a, const live_call& b) {
    return a.started_at < b.started_at;
  });
  return out;
}

size_t ozonetel_call_book::live_count() const {
  return static_cast<size_t>(
      std::count_if(calls_.begin(), calls_.end(),
                    [](const auto& kv) { return live(kv.second.phase); }));
}

} // namespace sb
