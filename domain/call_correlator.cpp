#include "domain/call_correlator.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/strings.hpp"
#include "domain/ami_fields.hpp"
#include "domain/call_summary.hpp"
#include "domain/cdr_calls.hpp"
#include "messages/ami_interest.hpp"
#include "messages/originate.hpp"

namespace sb {

using namespace ami_fields;

namespace {

unix_micros seconds_to_micros(double s) {
  return static_cast<unix_micros>(s * 1e6);
}

bool contains(const std::vector<std::string>& list, std::string_view x) {
  return std::find(list.begin(), list.end(), x) != list.end();
}

dial_outcome outcome_of_dial_status(std::string_view s) {
  if (s == "ANSWER")
    return dial_outcome::answer;
  if (s == "NOANSWER" || s == "CANCEL")
    return dial_outcome::no_answer;
  if (s == "BUSY")
    return dial_outcome::busy;
  return dial_outcome::failed; // CONGESTION, CHANUNAVAIL, ...
}

dial_outcome outcome_of_disposition(std::string_view s) {
  if (s == "ANSWERED")
    return dial_outcome::answer;
  if (s == "NO ANSWER")
    return dial_outcome::no_answer;
  if (s == "BUSY")
    return dial_outcome::busy;
  return dial_outcome::failed; // FAILED, CONGESTION
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

channel_kind call_correlator::classify(const pbx_state& pbx,
                                       std::string_view channel_name,
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

call_correlator::call_entry* call_correlator::call_for(pbx_state& pbx,
                                                       const fields& f,
                                                       unix_micros at,
                                                       unix_micros received) {
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
  if (pbx.calls.size() >= pbx.config.max_live_calls) {
    refuse(pbx, f);
    return nullptr;
  }
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

void call_correlator::refuse(pbx_state& pbx, const fields& f) {
  // Counted, never silent: the call's own first event counts the call, every
  // event of it counts as dropped. Calls already followed are untouched.
  ++stats_.refused_events;
  bool new_call = f.event == "Newchannel" && f.uniqueid == f.linkedid;
  if (new_call)
    ++stats_.calls_refused;
  auto i = std::find_if(refusals_.begin(), refusals_.end(),
                        [&](const call_refusals& r) {
                          return r.pbx == pbx.config.name;
                        });
  if (i == refusals_.end()) {
    refusals_.push_back({pbx.config.name, pbx.config.max_live_calls, 0, 0});
    i = refusals_.end() - 1;
  }
  ++i->events;
  if (new_call)
    ++i->calls;
}

std::vector<call_refusals> call_correlator::take_refusals() {
  return std::exchange(refusals_, {});
}

call_correlator::call_entry* call_correlator::resolve(pbx_state& pbx,
                                                      const fields& f,
                                                      unix_micros at,
                                                      unix_micros received) {
  lookup_buffer_.assign(f.uniqueid.data(), f.uniqueid.size());
  auto known = pbx.channel_calls.find(lookup_buffer_);
  if (known == pbx.channel_calls.end())
    return call_for(pbx, f, at, received);
  auto* entry = known->second;
  if (f.linkedid == entry->first)
    return entry;
  // The channel now carries another Linkedid: Asterisk moved it into that
  // call (bridged with it). Events of a call merged away still carry the
  // old Linkedid for a moment; the channel stays where it is then.
  key_buffer_.assign(f.linkedid.data(), f.linkedid.size());
  auto target = pbx.calls.find(key_buffer_);
  if (target == pbx.calls.end())
    return entry;
  auto* into = &*target;
  adopt(pbx, *into, *entry, f.uniqueid, at, received);
  return into;
}

channel_record& call_correlator::channel_for(pbx_state& pbx, call_entry& entry,
                                             std::string_view uniqueid,
                                             std::string_view channel_name,
                                             std::string_view context) {
  auto& call = entry.second;
  for (auto& ch : call.channels)
    if (ch.uniqueid == uniqueid)
      return ch;
  auto& ch = call.channels.emplace_back();
  ch.uniqueid.assign(uniqueid.data(), uniqueid.size());
  ch.kind = classify(pbx, channel_name, context);
  if (!channel_name.empty())
    ch.name_hash = name_hash(channel_name);
  if (ch.kind != channel_kind::trunk) {
    auto endpoint = endpoint_of(channel_name);
    ch.endpoint.assign(endpoint.data(), endpoint.size());
  }
  ch.local_half = local_half(channel_name);
  if (ch.local_half != 0) {
    // The other half has the same name but for the last character.
    std::string other{channel_name};
    other.back() = ch.local_half == 1 ? '2' : '1';
    auto other_hash = name_hash(other);
    for (auto& peer : call.channels)
      if (peer.name_hash == other_hash && &peer != &ch) {
        peer.partner = ch.uniqueid;
        ch.partner = peer.uniqueid;
      }
  }
  if (uniqueid == entry.first)
    call.orig = static_cast<int8_t>(call.channels.size() - 1);
  pbx.channel_calls[ch.uniqueid] = &entry;
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
  if (name == "VarSet") {
    on_recording(e);
    finalize_due_closing(received, out);
    return;
  }
  if (name.empty() || !tracker_wants(name)) {
    finalize_due_closing(received, out);
    return;
  }
  fields f{e};
  auto& pbx = pbx_for(e.pbx);
  auto at = f.timestamp.empty() ? received : parse_timestamp(f.timestamp);
  const bool stamped = at != 0 && !f.timestamp.empty();
  if (at == 0)
    at = received;
  if (stamped)
    pbx.last_stamp = std::max(pbx.last_stamp, at);
  if (name == "Cdr") {
    apply_cdr(pbx, f);
  } else if (name == "OriginateResponse") {
    on_originate_response(pbx, f);
  } else if (name == "BridgeMerge") {
    merge_bridges(pbx, f, at);
  } else if (name == "CoreShowChannelsComplete") {
    on_list_complete(pbx, at, received, stamped, out);
  } else if (f.uniqueid.empty() && !f.dest_uniqueid.empty()) {
    // An Originate's Dial has no calling channel, only the originated one.
    on_originate_dial(pbx, f, at);
  } else if (!f.linkedid.empty() && !f.uniqueid.empty()) {
    if (auto* entry = resolve(pbx, f, at, received))
      on_call_event(pbx, *entry, f, at, received);
  }
  finalize_due_closing(received, out);
}

void call_correlator::on_recording(const ami_event& e) {
  if (!iequals(e.get("Variable"), "MIXMONITOR_FILENAME"))
    return;
  auto& pbx = pbx_for(e.pbx);
  auto file = e.get("Value");
  auto slash = file.rfind('/');
  if (slash != std::string_view::npos)
    file = file.substr(slash + 1);
  if (file.empty())
    return;
  // The channel's call (channels change calls), else the named Linkedid.
  lookup_buffer_.assign(e.get("Uniqueid"));
  auto ch = pbx.channel_calls.find(lookup_buffer_);
  call_entry* entry = ch != pbx.channel_calls.end() ? ch->second : nullptr;
  if (entry == nullptr) {
    auto i = pbx.calls.find(std::string{e.get("Linkedid")});
    entry = i != pbx.calls.end() ? &*i : nullptr;
  }
  if (entry != nullptr && entry->second.recording.empty())
    entry->second.recording.assign(file.data(), file.size());
}

void call_correlator::on_call_event(pbx_state& pbx, call_entry& entry,
                                    const fields& f, unix_micros at,
                                    unix_micros received) {
  ++stats_.call_events;
  auto& call = entry.second;
  call.last_at = std::max(call.last_at, at);
  call.orphaned_at = 0;
  const auto& name = f.event;
  if (name == "DialBegin" || name == "DialEnd") {
    on_dial(pbx, entry, f, at, received);
    return;
  }
  const bool is_newchannel = name == "Newchannel";
  bool known = false;
  if (is_newchannel)
    for (auto& c : call.channels)
      known = known || c.uniqueid == f.uniqueid;
  auto& ch = channel_for(pbx, entry, f.uniqueid, f.channel, f.context);
  if (is_newchannel && !known && f.uniqueid == entry.first) {
    call.orig_caller = clean_number(f.caller_id_num);
    call.orig_exten = f.exten;
  }
  // Any event of a channel shows its state; Newstate is the usual one, but
  // on a call joined late it may be missing.
  if (f.channel_state == "6" && ch.up_at == 0 && name != "Hangup")
    ch.up_at = at;
  if (name == "BridgeEnter") {
    std::string old = ch.bridge;
    if (old != f.bridge) {
      leave_bridge(pbx, ch);
      enter_bridge(pbx, ch, f.bridge);
    }
    reevaluate(pbx, entry, old, at);
  } else if (name == "BridgeLeave") {
    std::string old = ch.bridge;
    leave_bridge(pbx, ch);
    reevaluate(pbx, entry, old, at);
  } else if (name == "CoreShowChannel") {
    on_listed_channel(pbx, entry, ch, f, at);
  } else if (name == "Hold" || name == "Unhold") {
    ch.held = name == "Hold";
    call.ever_held = call.ever_held || ch.held;
    reevaluate(pbx, entry, {}, at);
  } else if (name == "Hangup" && !ch.hung_up) {
    ch.hung_up = true;
    ch.hangup_at = at;
    call.end_at = std::max(call.end_at, at);
    if (f.uniqueid == entry.first)
      call.orig_cause = static_cast<int16_t>(parse_int(f.cause, -1));
    std::string old = ch.bridge;
    leave_bridge(pbx, ch);
    reevaluate(pbx, entry, old, at);
    close_if_done(pbx, entry, received);
  }
}

void call_correlator::on_dial(pbx_state& pbx, call_entry& entry,
                              const fields& f, unix_micros at,
                              unix_micros received) {
  auto& call = entry.second;
  channel_for(pbx, entry, f.uniqueid, f.channel, f.context);
  if (f.dest_uniqueid.empty())
    return;
  // The far leg listed under another Linkedid: a phone picking up this call
  // (its own call merges into this one).
  lookup_buffer_.assign(f.dest_uniqueid.data(), f.dest_uniqueid.size());
  if (auto i = pbx.channel_calls.find(lookup_buffer_);
      i != pbx.channel_calls.end() && i->second != &entry)
    adopt(pbx, entry, *i->second, f.dest_uniqueid, at, received);
  // Resolved after the adoption: pushing channels may move records.
  auto& dest = channel_for(pbx, entry, f.dest_uniqueid, f.dest_channel, {});
  if (f.event == "DialBegin") {
    const bool first_dial = dest.dial_order == 0;
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
    if (notices_ != nullptr && first_dial)
      notice_ringing(pbx, entry, dest, at);
    return;
  }
  auto outcome = outcome_of_dial_status(f.dial_status);
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

void call_correlator::on_originate_dial(pbx_state& pbx, const fields& f,
                                        unix_micros at) {
  lookup_buffer_.assign(f.dest_uniqueid.data(), f.dest_uniqueid.size());
  auto i = pbx.channel_calls.find(lookup_buffer_);
  if (i == pbx.channel_calls.end())
    return; // its Newchannel was not seen: nothing to attach it to
  auto& call = i->second->second;
  ++stats_.call_events;
  call.last_at = std::max(call.last_at, at);
  call.orphaned_at = 0;
  if (f.event == "DialBegin") {
    call.originated = true;
    call.originate_channel = f.dest_channel;
  } else if (f.event == "DialEnd") {
    call.originate_outcome = outcome_of_dial_status(f.dial_status);
  }
}

void call_correlator::on_originate_response(pbx_state& pbx, const fields& f) {
  auto exten = f.exten;
  if (exten.empty())
    return;
  call_entry* found = nullptr;
  if (!f.uniqueid.empty() && f.uniqueid != "<unknown>") {
    lookup_buffer_.assign(f.uniqueid.data(), f.uniqueid.size());
    auto i = pbx.channel_calls.find(lookup_buffer_);
    if (i != pbx.channel_calls.end()) {
      found = &*i->second;
      auto& call = found->second;
      call.originated = true;
      call.originate_exten = exten;
      ++stats_.call_events;
    }
  } else {
    // A failed Originate names the channel as it was requested
    // (`PJSIP/1002`), without the suffix of the channel that rang.
    for (auto& entry : pbx.calls) {
      auto& call = entry.second;
      auto& name = call.originate_channel;
      if (call.originated && call.originate_exten.empty()
          && name.size() > f.channel.size() && starts_with(name, f.channel)
          && name[f.channel.size()] == '-') {
        call.originate_exten = exten;
        ++stats_.call_events;
        found = &entry;
        break;
      }
    }
  }
  if (is_originate_id(f.action_id))
    on_own_originate(pbx, f, found);
}

void call_correlator::apply_cdr(pbx_state& pbx, const fields& f) {
  lookup_buffer_.assign(f.uniqueid.data(), f.uniqueid.size());
  auto i = pbx.channel_calls.find(lookup_buffer_);
  if (i == pbx.channel_calls.end()) {
    if (pbx.finalized.count(lookup_buffer_) > 0)
      ++stats_.late_events;
    else
      ++stats_.orphan_cdrs;
    return;
  }
  ++stats_.call_events;
  auto& entry = *i->second;
  auto& call = entry.second;
  // Bounded: a call has a handful of rows; a runaway PBX module must not
  // grow the record without limit.
  if (call.cdr.size() >= 255)
    return;
  cdr_row row;
  row.start = parse_cdr_time(f.start_time);
  row.answer = parse_cdr_time(f.answer_time);
  row.end = parse_cdr_time(f.end_time);
  row.billsec = static_cast<int32_t>(parse_int(f.billable_seconds, 0));
  row.disposition = outcome_of_disposition(f.disposition);
  row.from_orig = f.uniqueid == entry.first;
  auto a_hash = name_hash(f.channel);
  auto b_hash
      = f.destination_channel.empty() ? 0 : name_hash(f.destination_channel);
  for (auto& ch : call.channels) {
    if (ch.uniqueid == f.uniqueid || ch.name_hash == a_hash)
      row.party_a = ch.kind;
    if (b_hash != 0 && ch.name_hash == b_hash) {
      row.party_b = ch.kind;
      row.party_b_up = ch.up_at != 0;
    }
  }
  call.cdr.push_back(row);
}

void call_correlator::close_if_done(pbx_state& pbx, call_entry& entry,
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
  for (auto& [linkedid, call] : pbx.calls) {
    if (call.orphaned_at == 0)
      call.orphaned_at = at;
    // A closing call was seen to its end: nothing of it is in the gap.
    if (!call.closing)
      call.before_loss = true;
  }
  pbx.listed.clear();
  if (!pbx.lost)
    pbx.stamp_at_loss = pbx.last_stamp;
  pbx.lost = true;
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
  out.push_back(
      summarize_call(pbx.config.name, i->first, i->second, incomplete));
  out.back().recording = i->second.recording;
  out.back().recording_url
      = recording_url_of(pbx.config.recording_url, i->second.recording);
  if (out.back().incomplete)
    ++stats_.calls_incomplete;
  else
    ++stats_.calls_completed;
  // A call joined mid-way (it began in a gap and was still up at the
  // re-sync) or re-attached across a gap is whole only in the CDR, once it
  // has ended: a gap of its own, in the PBX's clock when the stream has one.
  // So is a call live at a loss that ends before the re-sync has told what
  // is up: Asterisk streams events right after the login, ahead of the
  // channel list, so its Hangup can come first; what it did in the gap
  // (answered, by whom) was never seen. The re-sync's own gap only replaces
  // entries finalized incomplete.
  bool unsynced = i->second.before_loss && !incomplete;
  if (i->second.partial || i->second.spanned_gap || unsynced) {
    cdr_gap gap;
    gap.pbx = pbx.config.name;
    gap.linkedid = i->first;
    if (pbx.last_stamp != 0) {
      gap.from = out.back().started_at;
      gap.to = std::max(out.back().ended_at, i->second.last_at) + 1'000'000;
    }
    gaps_.push_back(std::move(gap));
  }
  forget(pbx, *i);
  auto key = i->first;
  pbx.calls.erase(i);
  --live_;
  remember_finalized(pbx, key, now);
}

void call_correlator::forget(pbx_state& pbx, call_entry& entry) {
  for (auto& ch : entry.second.channels) {
    leave_bridge(pbx, ch);
    auto i = pbx.channel_calls.find(ch.uniqueid);
    if (i != pbx.channel_calls.end() && i->second == &entry)
      pbx.channel_calls.erase(i);
  }
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

std::vector<live_call> call_correlator::active() const {
  std::vector<live_call> result;
  result.reserve(live_);
  for (auto& [name, pbx] : pbxes_) {
    for (auto& [linkedid, call] : pbx.calls) {
      auto c = summarize_call(pbx.config.name, linkedid, call, false);
      live_call x;
      x.source = "ami";
      x.id = linkedid;
      x.origin = pbx.config.name;
      x.direction = c.direction;
      x.state = call.closing ? live_call_state::ending
                : c.disposition == call_disposition::answered
                    ? live_call_state::answered
                    : live_call_state::ringing;
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
    total += pbx.bridges.bucket_count() * sizeof(void*);
    for (auto& [bridge, members] : pbx.bridges) {
      total += node_overhead + sizeof(decltype(pbx.bridges)::value_type)
               + heap(bridge) + members.capacity() * sizeof(std::string);
      for (auto& m : members)
        total += heap(m);
    }
    for (auto& [linkedid, call] : pbx.calls) {
      total += node_overhead + sizeof(call_entry);
      total += heap(linkedid) + heap(call.orig_caller) + heap(call.orig_exten)
               + heap(call.trunk_number) + heap(call.originate_channel)
               + heap(call.originate_exten) + heap(call.request_id)
               + heap(call.first_person);
      total += call.channels.capacity() * sizeof(channel_record);
      total += call.cdr.capacity() * sizeof(cdr_row);
      total += call.talked_to.capacity() * sizeof(uint64_t);
      for (auto& ch : call.channels) {
        total += heap(ch.uniqueid) + heap(ch.endpoint) + heap(ch.partner)
                 + heap(ch.bridge);
        total += node_overhead + sizeof(decltype(pbx.channel_calls)::value_type)
                 + heap(ch.uniqueid);
      }
    }
  }
  total += closing_.size() * sizeof(closing_entry);
  return total;
}

} // namespace sb
