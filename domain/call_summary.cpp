#include "domain/call_summary.hpp"

#include <algorithm>

#include "domain/ami_fields.hpp"

namespace sb {

namespace {

using ami_fields::micros_per_second;

/// Whole seconds of `t`, rounded towards minus infinity.
int64_t floor_seconds(unix_micros t) {
  return t >= 0 ? t / micros_per_second
                : -((-t + micros_per_second - 1) / micros_per_second);
}

/// A stretch measured in the stream, rounded to the nearest second.
int64_t rounded_seconds(unix_micros d) {
  return d <= 0 ? 0 : (d + micros_per_second / 2) / micros_per_second;
}

/// What the channels say, gathered in one pass.
struct channel_view {
  const channel_record* orig = nullptr;
  const channel_record* first_rung_phone = nullptr;
  /// The first phone a Dial to it reported answered (DialEnd ANSWER).
  const channel_record* first_answered_phone = nullptr;
  std::string_view only_rung;
  bool several_rung = false;
  bool from_trunk = false;
  bool to_trunk = false;
  bool has_trunk = false;
  /// A person answered: the outside party was bridged with one, or a Dial
  /// to a phone (or, outbound, to the far end) was answered and the bridge
  /// is about to follow.
  bool answered = false;
};

channel_view view_of(const call_record& call) {
  channel_view v;
  v.orig = call.orig >= 0 ? &call.channels[call.orig] : nullptr;
  v.answered = call.ever_connected;
  v.from_trunk = v.orig != nullptr && v.orig->kind == channel_kind::trunk;
  v.to_trunk = call.dialled_out;
  for (auto& ch : call.channels) {
    if (ch.kind == channel_kind::trunk)
      v.has_trunk = true;
    if (v.orig == nullptr && ch.kind == channel_kind::trunk
        && ch.dial_order == 0)
      v.from_trunk = true; // joined late: a trunk nobody dialled is the caller
    if (ch.dial_order > 0 && ch.kind == channel_kind::trunk)
      v.to_trunk = true;
    if (ch.answered && ch.kind != channel_kind::local)
      v.answered = true;
    if (ch.answered && ch.kind == channel_kind::phone && &ch != v.orig
        && (v.first_answered_phone == nullptr
            || ch.answered_at < v.first_answered_phone->answered_at))
      v.first_answered_phone = &ch;
    if (ch.dial_order > 0 && ch.kind == channel_kind::phone && &ch != v.orig) {
      if (v.first_rung_phone == nullptr
          || ch.dial_order < v.first_rung_phone->dial_order)
        v.first_rung_phone = &ch;
      if (v.only_rung.empty())
        v.only_rung = ch.endpoint;
      else if (v.only_rung != ch.endpoint)
        v.several_rung = true;
    }
  }
  return v;
}

/// Direction, outside number and extensions.
void fill_parties(const call_record& call, const channel_view& v,
                  completed_call& c) {
  const bool phone_orig
      = v.orig != nullptr && v.orig->kind == channel_kind::phone;
  // A phone's call that never reached a trunk is still outbound when it
  // was for an outside number: the dialplan found no route (Congestion), or
  // an Originate's agent never answered.
  const std::string& asked
      = call.originated ? call.originate_exten : call.orig_exten;
  const bool unrouted = phone_orig && (call.dials == 0 || call.originated)
                        && ami_fields::looks_external(asked);
  c.direction = v.from_trunk             ? call_direction::inbound
                : v.to_trunk || unrouted ? call_direction::outbound
                                         : call_direction::internal;
  switch (c.direction) {
    case call_direction::inbound:
      c.external_number = call.orig_caller;
      c.did = call.orig_exten;
      if (!call.first_person.empty())
        c.extension = call.first_person;
      else if (v.first_answered_phone != nullptr)
        c.extension = v.first_answered_phone->endpoint;
      else if (!v.answered && !v.several_rung)
        c.extension = std::string{v.only_rung};
      break;
    case call_direction::outbound:
      // The dialled number, not the company CallerID the route set.
      if (call.originated && !call.originate_exten.empty())
        c.external_number = call.originate_exten;
      else if (!call.orig_exten.empty() && call.orig_exten != "s")
        c.external_number = call.orig_exten;
      else
        c.external_number = call.trunk_number;
      if (v.orig != nullptr)
        c.extension = v.orig->endpoint;
      break;
    case call_direction::internal:
      if (v.orig != nullptr)
        c.extension = v.orig->endpoint;
      if (!call.first_person.empty())
        c.peer_extension = call.first_person;
      else if (v.first_answered_phone != nullptr)
        c.peer_extension = v.first_answered_phone->endpoint;
      else if (v.first_rung_phone != nullptr)
        c.peer_extension = v.first_rung_phone->endpoint;
      break;
  }
}

/// Why nobody answered: the first dialled leg decides (as the first CDR row
/// does), legs to people before Local plumbing.
call_disposition unanswered_disposition(const call_record& call,
                                        const channel_view& v) {
  auto first_outcome = [&](bool local) {
    const channel_record* best = nullptr;
    for (auto& ch : call.channels)
      if (ch.dial_order > 0 && ch.outcome != dial_outcome::none && &ch != v.orig
          && (ch.kind == channel_kind::local) == local
          && (best == nullptr || ch.dial_order < best->dial_order))
        best = &ch;
    return best != nullptr ? best->outcome : dial_outcome::none;
  };
  auto outcome = first_outcome(false);
  if (outcome == dial_outcome::none)
    outcome = first_outcome(true);
  if (outcome == dial_outcome::none)
    outcome = call.originate_outcome;
  if (outcome == dial_outcome::none)
    for (auto& row : call.cdr)
      if (row.from_orig) {
        outcome = row.disposition;
        break;
      }
  if (outcome == dial_outcome::none) {
    // Nobody was dialled (unrouted DID, caller left an IVR): the hang-up
    // cause is all there is. 1 "unallocated" is reported as NO ANSWER.
    switch (call.orig_cause) {
      case 17:
        outcome = dial_outcome::busy;
        break;
      case 34:
      case 38:
      case 41:
      case 42:
        outcome = dial_outcome::failed;
        break;
      default:
        outcome = dial_outcome::no_answer;
    }
  }
  switch (outcome) {
    case dial_outcome::busy:
      return call_disposition::busy;
    case dial_outcome::failed:
      return call_disposition::failed;
    default:
      return call_disposition::no_answer;
  }
}

/// What the CDR rows say (Asterisk's own billing).
struct cdr_view {
  unix_micros start = 0;
  unix_micros end = 0;
  unix_micros person_answer = 0;
  int64_t billsec = 0;
  int64_t talk = 0;
  bool complete_times = false;
};

cdr_view cdr_of(const call_record& call, call_direction direction,
                bool has_trunk) {
  cdr_view v;
  v.complete_times = !call.cdr.empty();
  int64_t outside_sum = 0;
  bool outside_rows = false;
  int64_t orig_first = -1;
  int64_t orig_answered = -1;
  for (auto& row : call.cdr) {
    if (row.start == 0 || row.end == 0)
      v.complete_times = false;
    if (row.start != 0 && (v.start == 0 || row.start < v.start))
      v.start = row.start;
    v.end = std::max(v.end, row.end);
    const bool answered = row.disposition == dial_outcome::answer;
    // The outside party's answered segments: the trunk is party A or B.
    if (answered
        && (row.party_a == channel_kind::trunk
            || row.party_b == channel_kind::trunk)) {
      outside_sum += row.billsec;
      outside_rows = true;
    }
    if (row.from_orig) {
      if (orig_first < 0)
        orig_first = row.billsec;
      if (answered && orig_answered < 0)
        orig_answered = row.billsec;
    }
    // A person answered: party B is a phone (or, outbound, the far end)
    // whose channel really reached Up.
    const bool person = row.party_b == channel_kind::phone
                        || (direction == call_direction::outbound
                            && row.party_b == channel_kind::trunk);
    if (answered && person && row.party_b_up) {
      v.talk += row.billsec;
      if (row.answer != 0
          && (v.person_answer == 0 || row.answer < v.person_answer))
        v.person_answer = row.answer;
    }
  }
  if (has_trunk)
    v.billsec = outside_rows ? outside_sum
                : direction == call_direction::inbound
                    ? std::max<int64_t>(0, orig_first)
                    : 0;
  else
    v.billsec
        = std::max<int64_t>(0, orig_answered >= 0 ? orig_answered : orig_first);
  return v;
}

/// billsec measured in the stream: from the outside party's answer to its
/// hang-up.
int64_t stream_billsec(const call_record& call, const channel_view& v,
                       unix_micros event_end) {
  unix_micros up = 0;
  unix_micros down = 0;
  for (auto& ch : call.channels) {
    const bool outside
        = v.has_trunk ? ch.kind == channel_kind::trunk : &ch == v.orig;
    if (!outside || ch.up_at == 0)
      continue;
    if (up == 0 || ch.up_at < up)
      up = ch.up_at;
    down = std::max(down, ch.hung_up ? ch.hangup_at : event_end);
  }
  return up == 0 ? 0 : rounded_seconds(down - up);
}

void fill_times(const call_record& call, const channel_view& v,
                completed_call& c) {
  const bool answered = c.disposition == call_disposition::answered;
  const auto event_end = std::max(call.end_at, call.last_at);
  const auto cdr = cdr_of(call, c.direction, v.has_trunk);
  const bool has_cdr = !call.cdr.empty();
  // Events that show no time passing carry no clock (a PBX without
  // timestampevents replayed at once): then only the CDR can tell.
  const bool timed = call.last_at > call.first_at;
  if (cdr.complete_times) {
    c.started_at = cdr.start;
    c.ended_at = cdr.end;
    c.duration_seconds = (cdr.end - cdr.start) / micros_per_second;
  } else {
    c.started_at = call.first_at;
    c.ended_at = event_end;
    // Whole seconds on both ends, as CDR start / end are.
    c.duration_seconds
        = floor_seconds(event_end) - floor_seconds(call.first_at);
  }
  if (answered) {
    c.answered_at
        = cdr.person_answer != 0 ? cdr.person_answer : call.first_connected_at;
    if (c.answered_at == 0)
      for (auto& ch : call.channels)
        if (ch.answered && ch.kind != channel_kind::local
            && (c.answered_at == 0 || ch.answered_at < c.answered_at))
          c.answered_at = ch.answered_at;
  }
  // A click-to-call's CDR bills from the agent's answer; its outside party
  // answered later.
  if (has_cdr && !(call.originated && timed))
    c.billsec = cdr.billsec;
  else
    c.billsec = stream_billsec(call, v, event_end);
  // Several people in turn, a hold, or a click-to-call: CDR billsec
  // includes ringing and holding, so talk is measured in the stream.
  const bool segments
      = call.talked_to.size() > 1 || call.ever_held || call.originated;
  if (has_cdr && (!segments || !timed)) {
    c.talk_seconds = cdr.talk;
  } else {
    auto talk = call.talk;
    if (call.connected_since != 0)
      talk += std::max<unix_micros>(0, event_end - call.connected_since);
    c.talk_seconds = rounded_seconds(talk);
  }
}

} // namespace

completed_call summarize_call(std::string_view origin,
                              const std::string& linkedid,
                              const call_record& call, bool incomplete) {
  completed_call c;
  c.source = "ami";
  c.ext_message_id = linkedid;
  c.origin = std::string{origin};
  c.incomplete = incomplete || call.partial;
  c.request_id = call.request_id;
  auto v = view_of(call);
  fill_parties(call, v, c);
  c.disposition = v.answered ? call_disposition::answered
                             : unanswered_disposition(call, v);
  fill_times(call, v, c);
  return c;
}

} // namespace sb
