#include "domain/call_correlator.hpp"

#include <algorithm>
#include <chrono>

#include "core/strings.hpp"
#include "core/time.hpp"
#include "messages/ami_interest.hpp"

namespace sb {

namespace {

constexpr unix_micros micros_per_second = 1'000'000;

unix_micros seconds_to_micros(double s) {
  return static_cast<unix_micros>(s * 1e6);
}

/// Whole seconds of `t`, rounded towards minus infinity.
int64_t floor_seconds(unix_micros t) {
  return t >= 0 ? t / micros_per_second
                : -((-t + micros_per_second - 1) / micros_per_second);
}

bool contains(const std::vector<std::string>& list, std::string_view x) {
  for (auto& item : list)
    if (item == x)
      return true;
  return false;
}

int64_t parse_int(std::string_view s, int64_t fallback) {
  if (s.empty())
    return fallback;
  bool negative = s[0] == '-';
  size_t i = negative ? 1 : 0;
  if (i == s.size())
    return fallback;
  int64_t value = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9')
      return fallback;
    value = value * 10 + (s[i] - '0');
  }
  return negative ? -value : value;
}

/// `Timestamp: 1795298998.811647` (seconds.microseconds); 0 when malformed.
unix_micros parse_timestamp(std::string_view s) {
  unix_micros seconds = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
    seconds = seconds * 10 + (s[i] - '0');
  if (i == 0)
    return 0;
  unix_micros fraction = 0;
  int digits = 0;
  if (i < s.size() && s[i] == '.')
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
      if (digits < 6) {
        fraction = fraction * 10 + (s[i] - '0');
        ++digits;
      }
  for (; digits < 6; ++digits)
    fraction *= 10;
  return seconds * micros_per_second + fraction;
}

/// Cdr `StartTime` / `AnswerTime` / `EndTime`: "YYYY-MM-DD HH:MM:SS" in the
/// PBX's local time, read as UTC (the PBX's zone is not on the wire; the
/// recording host ran in UTC). 0 when empty or malformed.
unix_micros parse_cdr_time(std::string_view s) {
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || s[13] != ':'
      || s[16] != ':')
    return 0;
  auto num = [&](size_t pos, size_t len) {
    return parse_int(s.substr(pos, len), -1);
  };
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2),
       mi = num(14, 2), sec = num(17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || mi < 0
      || sec < 0)
    return 0;
  auto days
      = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return ((days * 24 + h) * 60 + mi) * 60 * micros_per_second
         + sec * micros_per_second;
}

/// Asterisk writes "<unknown>" where a caller ID is absent.
std::string_view clean_number(std::string_view s) {
  return s == "<unknown>" ? std::string_view{} : s;
}

/// The extension in a channel name: `PJSIP/1001-0000000d` -> 1001,
/// `Local/1001@from-queue-0000000a;1` -> 1001. The hex suffix is a counter
/// with no meaning.
std::string_view endpoint_of(std::string_view name) {
  auto slash = name.find('/');
  auto rest = slash == std::string_view::npos ? name : name.substr(slash + 1);
  if (starts_with(name, "Local/"))
    return rest.substr(0, rest.find('@'));
  auto dash = rest.rfind('-');
  return dash == std::string_view::npos ? rest : rest.substr(0, dash);
}

/// The number in a DialString: `07700900456@trunk-pstn` or
/// `trunk/07700900456` -> 07700900456.
std::string_view number_of_dial_string(std::string_view s) {
  s = s.substr(0, s.find('@'));
  auto slash = s.rfind('/');
  if (slash != std::string_view::npos)
    s = s.substr(slash + 1);
  return s;
}

} // namespace

unix_micros to_unix_micros(caf::timestamp t) noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             t.time_since_epoch())
      .count();
}

correlator_options correlator_options::from(const tracker_config& cfg) {
  correlator_options result;
  result.stale_call_seconds = cfg.stale_call_seconds;
  result.max_call_seconds = cfg.max_call_seconds;
  result.finalized_memory_seconds
      = std::max(result.finalized_memory_seconds, cfg.stale_call_seconds);
  return result;
}

/// The fields the tracker reads, found in one pass over the event.
struct call_correlator::event_fields {
  std::string_view event;
  std::string_view channel;
  std::string_view uniqueid; // `Uniqueid`, and `UniqueID` of Cdr
  std::string_view linkedid;
  std::string_view context;
  std::string_view exten;
  std::string_view caller_id_num;
  std::string_view channel_state;
  std::string_view timestamp;
  std::string_view dest_channel;
  std::string_view dest_uniqueid;
  std::string_view dest_caller_id_num;
  std::string_view dial_string;
  std::string_view dial_status;
  std::string_view cause;
  std::string_view destination_channel; // Cdr
  std::string_view start_time;          // Cdr
  std::string_view answer_time;         // Cdr
  std::string_view end_time;            // Cdr
  std::string_view billable_seconds;    // Cdr
  std::string_view disposition;         // Cdr
  bool has_uniqueid = false;

  explicit event_fields(const ami_event& e) {
    for (size_t i = 0; i < e.size(); ++i) {
      auto k = e.key(i);
      std::string_view* slot = nullptr;
      switch (k.size()) {
        case 5:
          if (iequals(k, "Event"))
            slot = &event;
          else if (iequals(k, "Exten"))
            slot = &exten;
          else if (iequals(k, "Cause"))
            slot = &cause;
          break;
        case 7:
          if (iequals(k, "Channel"))
            slot = &channel;
          else if (iequals(k, "Context"))
            slot = &context;
          else if (iequals(k, "EndTime"))
            slot = &end_time;
          break;
        case 8:
          if (iequals(k, "Uniqueid")) {
            slot = &uniqueid;
            if (has_uniqueid)
              slot = nullptr;
            has_uniqueid = true;
          } else if (iequals(k, "Linkedid")) {
            slot = &linkedid;
          }
          break;
        case 9:
          if (iequals(k, "Timestamp"))
            slot = &timestamp;
          else if (iequals(k, "StartTime"))
            slot = &start_time;
          break;
        case 10:
          if (iequals(k, "DialStatus"))
            slot = &dial_status;
          else if (iequals(k, "DialString"))
            slot = &dial_string;
          else if (iequals(k, "AnswerTime"))
            slot = &answer_time;
          break;
        case 11:
          if (iequals(k, "CallerIDNum"))
            slot = &caller_id_num;
          else if (iequals(k, "DestChannel"))
            slot = &dest_channel;
          else if (iequals(k, "Disposition"))
            slot = &disposition;
          break;
        case 12:
          if (iequals(k, "ChannelState"))
            slot = &channel_state;
          else if (iequals(k, "DestUniqueid"))
            slot = &dest_uniqueid;
          break;
        case 15:
          if (iequals(k, "DestCallerIDNum"))
            slot = &dest_caller_id_num;
          else if (iequals(k, "BillableSeconds"))
            slot = &billable_seconds;
          break;
        case 18:
          if (iequals(k, "DestinationChannel"))
            slot = &destination_channel;
          break;
        default:
          break;
      }
      // First occurrence wins (a repeated key is not part of these events'
      // layout, but a PBX module could add one).
      if (slot != nullptr && slot->data() == nullptr)
        *slot = e.value(i);
    }
  }
};

call_correlator::call_correlator(std::vector<pbx_config> pbxes,
                                 correlator_options options)
    : options_(options),
      cdr_grace_(seconds_to_micros(options.cdr_grace_seconds)),
      stale_after_(seconds_to_micros(options.stale_call_seconds)),
      max_age_(seconds_to_micros(options.max_call_seconds)),
      finalized_memory_(seconds_to_micros(options.finalized_memory_seconds)) {
  for (auto& cfg : pbxes) {
    auto name = cfg.name;
    pbxes_[name].config = std::move(cfg);
  }
}

call_correlator::pbx_state& call_correlator::pbx_for(std::string_view name) {
  if (last_pbx_ != nullptr && last_pbx_->config.name == name)
    return *last_pbx_;
  auto key = std::string{name};
  auto i = pbxes_.find(key);
  if (i == pbxes_.end()) {
    i = pbxes_.emplace(key, pbx_state{}).first;
    i->second.config.name = key;
  }
  last_pbx_ = &i->second;
  return i->second;
}

call_correlator::channel_kind
call_correlator::classify(const pbx_state& pbx, std::string_view channel_name,
                          std::string_view context) const {
  if (starts_with(channel_name, "Local/"))
    return channel_kind::local;
  for (auto& prefix : pbx.config.trunks)
    if (!prefix.empty() && starts_with(channel_name, prefix))
      return channel_kind::trunk;
  // A channel's Newchannel context is its endpoint's context: trunks land in
  // from-pstn / from-trunk, phones in from-internal.
  if (!context.empty() && contains(pbx.config.inbound_contexts, context))
    return channel_kind::trunk;
  if (channel_name.empty())
    return channel_kind::unknown;
  return channel_kind::phone;
}

std::pair<const std::string, call_correlator::call_record>*
call_correlator::call_for(pbx_state& pbx, const event_fields& f, unix_micros at,
                          unix_micros received, bool may_create) {
  // Reused buffer: Linkedids over 15 characters would otherwise cost an
  // allocation per lookup.
  auto& key = key_buffer_;
  key.assign(f.linkedid.data(), f.linkedid.size());
  auto i = pbx.calls.find(key);
  if (i != pbx.calls.end())
    return &*i;
  if (pbx.finalized.count(key) > 0) {
    ++stats_.late_events;
    return nullptr;
  }
  if (!may_create)
    return nullptr;
  i = pbx.calls.emplace(key, call_record{}).first;
  auto& call = i->second;
  call.channels.reserve(4);
  call.first_at = at;
  call.last_at = at;
  call.first_received = received;
  // Seeing anything but the originating channel's Newchannel first means
  // the call began before we were listening (startup, reconnect).
  call.partial = !(f.event == "Newchannel" && f.uniqueid == f.linkedid);
  ++stats_.calls_started;
  ++live_;
  scan_due_ = std::min(scan_due_, received + max_age_);
  return &*i;
}

call_correlator::channel_record& call_correlator::channel_for(
    pbx_state& pbx, std::pair<const std::string, call_record>& entry,
    std::string_view uniqueid, std::string_view channel_name,
    std::string_view context) {
  auto& call = entry.second;
  for (auto& ch : call.channels)
    if (ch.uniqueid == uniqueid)
      return ch;
  auto& ch = call.channels.emplace_back();
  ch.uniqueid.assign(uniqueid.data(), uniqueid.size());
  ch.kind = classify(pbx, channel_name, context);
  if (ch.kind != channel_kind::trunk) {
    auto endpoint = endpoint_of(channel_name);
    ch.endpoint.assign(endpoint.data(), endpoint.size());
  }
  if (uniqueid == entry.first)
    call.orig = static_cast<int8_t>(call.channels.size() - 1);
  else
    pbx.channel_calls.emplace(ch.uniqueid, &entry);
  // A new channel (transfer target, ...) means the call is not over.
  call.closing = false;
  return ch;
}

void call_correlator::on_event(const ami_event& e,
                               std::vector<completed_call>& out) {
  ++stats_.events;
  auto received = to_unix_micros(e.received);
  // The event name is nearly always the first field.
  std::string_view name
      = e.size() > 0 && iequals(e.key(0), "Event") ? e.value(0) : e.name();
  if (name.empty() || !tracker_wants(name)) {
    finalize_due_closing(received, out);
    return;
  }
  event_fields f{e};
  auto& pbx = pbx_for(e.pbx);
  if (name == "Cdr") {
    apply_cdr(pbx, f);
    finalize_due_closing(received, out);
    return;
  }
  if (f.linkedid.empty() || f.uniqueid.empty()) {
    finalize_due_closing(received, out);
    return;
  }
  auto at = f.timestamp.empty() ? received : parse_timestamp(f.timestamp);
  if (at == 0)
    at = received;
  auto* entry = call_for(pbx, f, at, received, true);
  if (entry == nullptr) {
    finalize_due_closing(received, out);
    return;
  }
  ++stats_.call_events;
  auto& call = entry->second;
  call.last_at = std::max(call.last_at, at);
  call.orphaned_at = 0;
  const bool is_hangup = name == "Hangup";
  if (name == "Newchannel") {
    bool known = false;
    for (auto& ch : call.channels)
      known = known || ch.uniqueid == f.uniqueid;
    if (!known) {
      channel_for(pbx, *entry, f.uniqueid, f.channel, f.context);
      if (f.uniqueid == entry->first) {
        call.orig_caller = clean_number(f.caller_id_num);
        call.orig_exten = f.exten;
      }
    }
  } else if (name == "DialBegin" || name == "DialEnd") {
    // Resolve the dialling channel first: pushing channels may move records.
    channel_for(pbx, *entry, f.uniqueid, f.channel, f.context);
    if (!f.dest_uniqueid.empty()) {
      auto& dest = channel_for(pbx, *entry, f.dest_uniqueid, f.dest_channel,
                               std::string_view{});
      if (name == "DialBegin") {
        if (dest.dial_order == 0 && call.dials < 255)
          dest.dial_order = ++call.dials;
        // FreePBX dials trunks from macro-dialout-trunk (and the like).
        if (!f.context.empty()
            && contains(pbx.config.outbound_contexts, f.context)) {
          call.dialled_out = true;
          if (dest.kind != channel_kind::local)
            dest.kind = channel_kind::trunk;
        }
        if (dest.kind == channel_kind::trunk && call.trunk_number.empty()) {
          auto number = clean_number(f.dest_caller_id_num);
          if (number.empty())
            number = number_of_dial_string(f.dial_string);
          call.trunk_number = number;
        }
      } else {
        dial_outcome outcome;
        auto& s = f.dial_status;
        if (s == "ANSWER")
          outcome = dial_outcome::answer;
        else if (s == "NOANSWER" || s == "CANCEL")
          outcome = dial_outcome::no_answer;
        else if (s == "BUSY")
          outcome = dial_outcome::busy;
        else
          outcome = dial_outcome::failed; // CONGESTION, CHANUNAVAIL, ...
        if (outcome == dial_outcome::answer) {
          dest.outcome = outcome;
          // A Local channel answering is the queue / PBX, not a person.
          if (dest.kind != channel_kind::local && !dest.answered) {
            dest.answered = true;
            dest.answered_at = at;
          }
        } else if (dest.outcome == dial_outcome::none) {
          dest.outcome = outcome;
        }
      }
    }
  } else {
    auto& ch = channel_for(pbx, *entry, f.uniqueid, f.channel, f.context);
    if (is_hangup) {
      if (!ch.hung_up) {
        ch.hung_up = true;
        ch.hangup_at = at;
        call.end_at = std::max(call.end_at, at);
        if (f.uniqueid == entry->first)
          call.orig_cause = static_cast<int16_t>(parse_int(f.cause, -1));
      }
    }
  }
  // Any event of a channel shows its state; Newstate is the usual one, but
  // on a call joined late it may be missing.
  if (f.channel_state == "6" && !is_hangup) {
    for (auto& ch : call.channels)
      if (ch.uniqueid == f.uniqueid && ch.up_at == 0) {
        ch.up_at = at;
        break;
      }
  }
  if (is_hangup)
    close_if_done(pbx, *entry, received);
  finalize_due_closing(received, out);
}

void call_correlator::apply_cdr(pbx_state& pbx, const event_fields& f) {
  auto& key = key_buffer_;
  key.assign(f.uniqueid.data(), f.uniqueid.size());
  std::pair<const std::string, call_record>* entry = nullptr;
  if (auto i = pbx.calls.find(key); i != pbx.calls.end()) {
    entry = &*i;
  } else if (auto j = pbx.channel_calls.find(key);
             j != pbx.channel_calls.end()) {
    entry = j->second;
  } else {
    if (pbx.finalized.count(key) > 0)
      ++stats_.late_events;
    else
      ++stats_.orphan_cdrs;
    return;
  }
  ++stats_.call_events;
  auto& cdr = entry->second.cdr;
  auto start = parse_cdr_time(f.start_time);
  auto answer = parse_cdr_time(f.answer_time);
  auto end = parse_cdr_time(f.end_time);
  auto billsec = static_cast<int32_t>(parse_int(f.billable_seconds, 0));
  dial_outcome disposition;
  if (f.disposition == "ANSWERED")
    disposition = dial_outcome::answer;
  else if (f.disposition == "NO ANSWER")
    disposition = dial_outcome::no_answer;
  else if (f.disposition == "BUSY")
    disposition = dial_outcome::busy;
  else
    disposition = dial_outcome::failed; // FAILED, CONGESTION
  if (cdr.rows < 255)
    ++cdr.rows;
  if (start != 0 && (cdr.start == 0 || start < cdr.start))
    cdr.start = start;
  if (end > cdr.end)
    cdr.end = end;
  if (f.uniqueid == entry->first) {
    // Rows of the originating channel: billsec is the first ANSWERED one's.
    if (cdr.orig_disposition == dial_outcome::none) {
      cdr.orig_disposition = disposition;
      cdr.orig_billsec = billsec;
    }
    if (disposition == dial_outcome::answer && !cdr.orig_answered_row) {
      cdr.orig_answered_row = true;
      cdr.orig_billsec = billsec;
    }
  }
  // A person answered when the far side of the row is a phone or a trunk;
  // Local channels are the queue's plumbing.
  if (disposition == dial_outcome::answer && !f.destination_channel.empty()
      && !starts_with(f.destination_channel, "Local/")) {
    cdr.talk += billsec;
    if (cdr.person_rows < 255)
      ++cdr.person_rows;
    if (answer != 0 && (cdr.person_answer == 0 || answer < cdr.person_answer))
      cdr.person_answer = answer;
  }
}

void call_correlator::close_if_done(
    pbx_state& pbx, std::pair<const std::string, call_record>& entry,
    unix_micros received) {
  auto& call = entry.second;
  for (auto& ch : call.channels)
    if (!ch.hung_up)
      return;
  call.closing = true;
  call.closing_due = received + cdr_grace_;
  closing_.push_back(closing_entry{call.closing_due, &pbx, entry.first});
}

void call_correlator::finalize_due_closing(unix_micros now,
                                           std::vector<completed_call>& out) {
  while (!closing_.empty() && closing_.front().due <= now) {
    auto entry = std::move(closing_.front());
    closing_.pop_front();
    auto i = entry.pbx->calls.find(entry.linkedid);
    if (i == entry.pbx->calls.end() || !i->second.closing
        || i->second.closing_due > now)
      continue; // reopened, or closed again later (a later entry exists)
    finalize(*entry.pbx, entry.linkedid, false, now, out);
  }
}

void call_correlator::finalize_stale(unix_micros now,
                                     std::vector<completed_call>& out) {
  finalize_due_closing(now, out);
  if (now < scan_due_)
    return;
  std::vector<std::pair<pbx_state*, std::string>> due;
  unix_micros next = never;
  for (auto& [name, pbx] : pbxes_) {
    for (auto& [linkedid, call] : pbx.calls) {
      auto stale_at
          = call.orphaned_at != 0 ? call.orphaned_at + stale_after_ : never;
      auto old_at = call.first_received + max_age_;
      auto at = std::min(stale_at, old_at);
      if (at <= now)
        due.emplace_back(&pbx, linkedid);
      else
        next = std::min(next, at);
    }
  }
  scan_due_ = next;
  for (auto& [pbx, linkedid] : due)
    finalize(*pbx, linkedid, true, now, out);
}

void call_correlator::on_connection_lost(std::string_view name,
                                         unix_micros now) {
  auto& pbx = pbx_for(name);
  // 0 means "not orphaned": keep a real loss time distinct from it.
  auto at = std::max<unix_micros>(now, 1);
  for (auto& [linkedid, call] : pbx.calls)
    if (call.orphaned_at == 0)
      call.orphaned_at = at;
  if (!pbx.calls.empty())
    scan_due_ = std::min(scan_due_, at + stale_after_);
}

unix_micros call_correlator::next_deadline() const noexcept {
  auto result = scan_due_;
  if (!closing_.empty())
    result = std::min(result, closing_.front().due);
  return result;
}

void call_correlator::finalize(pbx_state& pbx, const std::string& linkedid,
                               bool incomplete, unix_micros now,
                               std::vector<completed_call>& out) {
  auto i = pbx.calls.find(linkedid);
  if (i == pbx.calls.end())
    return;
  out.push_back(make_call(pbx, i->first, i->second, incomplete));
  if (out.back().incomplete)
    ++stats_.calls_incomplete;
  else
    ++stats_.calls_completed;
  for (auto& ch : i->second.channels)
    if (ch.uniqueid != i->first)
      pbx.channel_calls.erase(ch.uniqueid);
  auto key = i->first;
  pbx.calls.erase(i);
  --live_;
  remember_finalized(pbx, key, now);
}

void call_correlator::remember_finalized(pbx_state& pbx,
                                         const std::string& linkedid,
                                         unix_micros now) {
  if (pbx.finalized.insert(linkedid).second)
    pbx.finalized_order.emplace_back(now, linkedid);
  while (!pbx.finalized_order.empty()
         && (pbx.finalized_order.size() > options_.max_finalized_remembered
             || pbx.finalized_order.front().first + finalized_memory_ < now)) {
    pbx.finalized.erase(pbx.finalized_order.front().second);
    pbx.finalized_order.pop_front();
  }
}

completed_call call_correlator::make_call(const pbx_state& pbx,
                                          const std::string& linkedid,
                                          const call_record& call,
                                          bool incomplete) const {
  completed_call c;
  c.source = "ami";
  c.ext_message_id = linkedid;
  c.origin = pbx.config.name;
  c.incomplete = incomplete || call.partial;
  const channel_record* orig
      = call.orig >= 0 ? &call.channels[call.orig] : nullptr;
  // Direction follows the originating channel (README field note 3).
  bool from_trunk = orig != nullptr && orig->kind == channel_kind::trunk;
  bool to_trunk = call.dialled_out;
  const channel_record* first_answered = nullptr;       // any person
  const channel_record* first_answered_phone = nullptr; // an extension
  const channel_record* first_rung_phone = nullptr;
  std::string_view only_rung;
  bool several_rung = false;
  for (auto& ch : call.channels) {
    if (orig == nullptr && ch.kind == channel_kind::trunk && ch.dial_order == 0)
      from_trunk = true; // joined late: a trunk nobody dialled is the caller
    if (ch.dial_order > 0 && ch.kind == channel_kind::trunk)
      to_trunk = true;
    if (ch.answered) {
      if (first_answered == nullptr
          || ch.answered_at < first_answered->answered_at)
        first_answered = &ch;
      if (ch.kind == channel_kind::phone
          && (first_answered_phone == nullptr
              || ch.answered_at < first_answered_phone->answered_at))
        first_answered_phone = &ch;
    }
    if (ch.dial_order > 0 && ch.kind == channel_kind::phone) {
      if (first_rung_phone == nullptr
          || ch.dial_order < first_rung_phone->dial_order)
        first_rung_phone = &ch;
      if (only_rung.empty())
        only_rung = ch.endpoint;
      else if (only_rung != ch.endpoint)
        several_rung = true;
    }
  }
  c.direction = from_trunk ? call_direction::inbound
                : to_trunk ? call_direction::outbound
                           : call_direction::internal;
  const bool answered = first_answered != nullptr || call.cdr.person_rows > 0;

  switch (c.direction) {
    case call_direction::inbound:
      c.external_number = call.orig_caller;
      c.did = call.orig_exten;
      if (first_answered_phone != nullptr)
        c.extension = first_answered_phone->endpoint;
      else if (!answered && !several_rung)
        c.extension = only_rung;
      break;
    case call_direction::outbound:
      // The dialled number, not the company CallerID the route set.
      if (!call.orig_exten.empty() && call.orig_exten != "s")
        c.external_number = call.orig_exten;
      else
        c.external_number = call.trunk_number;
      if (orig != nullptr)
        c.extension = orig->endpoint;
      break;
    case call_direction::internal:
      if (orig != nullptr)
        c.extension = orig->endpoint;
      if (first_answered_phone != nullptr)
        c.peer_extension = first_answered_phone->endpoint;
      else if (first_rung_phone != nullptr)
        c.peer_extension = first_rung_phone->endpoint;
      break;
  }

  if (answered) {
    c.disposition = call_disposition::answered;
  } else {
    // The first dialled leg decides (as the first CDR row does); legs to
    // people before Local plumbing.
    auto first_outcome = [&](bool local) {
      const channel_record* best = nullptr;
      for (auto& ch : call.channels)
        if (ch.dial_order > 0 && ch.outcome != dial_outcome::none
            && (ch.kind == channel_kind::local) == local
            && (best == nullptr || ch.dial_order < best->dial_order))
          best = &ch;
      return best != nullptr ? best->outcome : dial_outcome::none;
    };
    auto outcome = first_outcome(false);
    if (outcome == dial_outcome::none)
      outcome = first_outcome(true);
    if (outcome == dial_outcome::none)
      outcome = call.cdr.orig_disposition;
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
        c.disposition = call_disposition::busy;
        break;
      case dial_outcome::failed:
        c.disposition = call_disposition::failed;
        break;
      default:
        c.disposition = call_disposition::no_answer;
    }
  }

  // Times: CDR rows when the PBX sent them, else the events' own times.
  const auto event_end = std::max(call.end_at, call.last_at);
  const bool cdr_times
      = call.cdr.rows > 0 && call.cdr.start != 0 && call.cdr.end != 0;
  if (cdr_times) {
    c.started_at = call.cdr.start;
    c.ended_at = call.cdr.end;
    c.duration_seconds = (call.cdr.end - call.cdr.start) / micros_per_second;
  } else {
    c.started_at = call.first_at;
    c.ended_at = event_end;
    // Whole seconds on both ends, as CDR start / end are.
    c.duration_seconds
        = floor_seconds(event_end) - floor_seconds(call.first_at);
  }
  if (answered) {
    if (call.cdr.person_answer != 0)
      c.answered_at = call.cdr.person_answer;
    else if (first_answered != nullptr)
      c.answered_at = first_answered->answered_at;
  }
  auto leg_end = [&](const channel_record& ch) {
    return ch.hung_up ? ch.hangup_at : event_end;
  };
  if (call.cdr.orig_billsec >= 0) {
    c.billsec = call.cdr.orig_billsec;
  } else if (orig != nullptr && orig->up_at != 0) {
    // Asterisk bills the outside party's channel from its answer (a queue's
    // Answer() included) to its hang-up, truncated to seconds.
    c.billsec = std::max<int64_t>(0, (leg_end(*orig) - orig->up_at)
                                         / micros_per_second);
  }
  if (call.cdr.person_rows > 0) {
    c.talk_seconds = call.cdr.talk;
  } else {
    for (auto& ch : call.channels)
      if (ch.answered)
        c.talk_seconds += std::max<int64_t>(0, (leg_end(ch) - ch.answered_at)
                                                   / micros_per_second);
  }
  return c;
}

std::vector<live_call> call_correlator::active() const {
  std::vector<live_call> result;
  result.reserve(live_);
  for (auto& [name, pbx] : pbxes_) {
    for (auto& [linkedid, call] : pbx.calls) {
      auto c = make_call(pbx, linkedid, call, false);
      live_call x;
      x.source = "ami";
      x.id = linkedid;
      x.origin = pbx.config.name;
      x.direction = to_string(c.direction);
      x.state = call.closing                                  ? "ending"
                : c.disposition == call_disposition::answered ? "answered"
                                                              : "ringing";
      x.external_number = std::move(c.external_number);
      x.extension = std::move(c.extension);
      x.started_at = c.started_at;
      x.answered_at = c.answered_at;
      result.push_back(std::move(x));
    }
  }
  return result;
}

size_t call_correlator::live_count() const noexcept {
  return live_;
}

size_t call_correlator::live_bytes() const {
  auto heap = [](const std::string& s) {
    // libstdc++ keeps up to 15 characters inside the object.
    return s.capacity() > 15 ? s.capacity() + 1 : 0;
  };
  // An unordered_map node: next pointer, value, cached hash.
  constexpr size_t node_overhead = 2 * sizeof(void*);
  size_t total = 0;
  for (auto& [name, pbx] : pbxes_) {
    total += pbx.calls.bucket_count() * sizeof(void*);
    total += pbx.channel_calls.bucket_count() * sizeof(void*);
    for (auto& [linkedid, call] : pbx.calls) {
      total
          += node_overhead + sizeof(std::pair<const std::string, call_record>);
      total += heap(linkedid) + heap(call.orig_caller) + heap(call.orig_exten)
               + heap(call.trunk_number);
      total += call.channels.capacity() * sizeof(channel_record);
      for (auto& ch : call.channels) {
        total += heap(ch.uniqueid) + heap(ch.endpoint);
        if (ch.uniqueid != linkedid)
          total += node_overhead
                   + sizeof(decltype(pbx.channel_calls)::value_type)
                   + heap(ch.uniqueid);
      }
    }
  }
  total += closing_.size() * sizeof(closing_entry);
  return total;
}

} // namespace sb
