// The call correlator's view of bridges: which channels share audio, who is
// holding, and channels changing calls. From it comes whether (and for how
// long) the outside party was connected to a person.

#include <algorithm>

#include "domain/ami_fields.hpp"
#include "domain/call_correlator.hpp"

namespace sb {

namespace {

/// Bounds the bridge walk: a call crosses a handful of bridges (a queue or
/// an attended transfer adds one per Local pair).
constexpr size_t max_bridges_walked = 16;

/// Distinct phones remembered per call (the count only matters up to 2).
constexpr size_t max_talked_to = 8;

} // namespace

channel_record* call_correlator::lookup(pbx_state& pbx,
                                        std::string_view uniqueid) {
  lookup_buffer_.assign(uniqueid.data(), uniqueid.size());
  auto i = pbx.channel_calls.find(lookup_buffer_);
  if (i == pbx.channel_calls.end())
    return nullptr;
  for (auto& ch : i->second->second.channels)
    if (ch.uniqueid == uniqueid)
      return &ch;
  return nullptr;
}

void call_correlator::enter_bridge(pbx_state& pbx, channel_record& ch,
                                   std::string_view bridge) {
  if (bridge.empty())
    return;
  ch.bridge.assign(bridge.data(), bridge.size());
  auto& members = pbx.bridges[ch.bridge];
  if (std::find(members.begin(), members.end(), ch.uniqueid) == members.end())
    members.push_back(ch.uniqueid);
}

void call_correlator::leave_bridge(pbx_state& pbx, channel_record& ch) {
  if (ch.bridge.empty())
    return;
  auto i = pbx.bridges.find(ch.bridge);
  if (i != pbx.bridges.end()) {
    auto& members = i->second;
    members.erase(std::remove(members.begin(), members.end(), ch.uniqueid),
                  members.end());
    if (members.empty())
      pbx.bridges.erase(i);
  }
  ch.bridge.clear();
}

void call_correlator::merge_bridges(pbx_state& pbx, const fields& f,
                                    unix_micros at) {
  if (f.from_bridge.empty() || f.to_bridge.empty()
      || f.from_bridge == f.to_bridge)
    return;
  auto from = pbx.bridges.find(std::string{f.from_bridge});
  if (from == pbx.bridges.end())
    return;
  auto moved = std::move(from->second);
  pbx.bridges.erase(from);
  std::vector<call_entry*> calls;
  for (auto& uniqueid : moved) {
    auto* ch = lookup(pbx, uniqueid);
    if (ch == nullptr)
      continue;
    ch->bridge.clear();
    enter_bridge(pbx, *ch, f.to_bridge);
    auto* entry = pbx.channel_calls[uniqueid];
    if (std::find(calls.begin(), calls.end(), entry) == calls.end())
      calls.push_back(entry);
  }
  for (auto* entry : calls)
    reevaluate(pbx, *entry, {}, at);
}

void call_correlator::reevaluate(pbx_state& pbx, call_entry& entry,
                                 std::string_view old_bridge, unix_micros at) {
  // The calls whose connection may have changed: this one and every call
  // with a channel in a bridge this call's channels are (or just were) in.
  std::vector<call_entry*> calls{&entry};
  auto add_members = [&](const std::string& bridge) {
    auto i = pbx.bridges.find(bridge);
    if (i == pbx.bridges.end())
      return;
    for (auto& uniqueid : i->second) {
      auto j = pbx.channel_calls.find(uniqueid);
      if (j != pbx.channel_calls.end()
          && std::find(calls.begin(), calls.end(), j->second) == calls.end())
        calls.push_back(j->second);
    }
  };
  if (!old_bridge.empty())
    add_members(std::string{old_bridge});
  for (auto& ch : entry.second.channels)
    if (!ch.bridge.empty())
      add_members(ch.bridge);
  for (auto* call : calls)
    update_connection(pbx, *call, at);
}

void call_correlator::update_connection(pbx_state& pbx, call_entry& entry,
                                        unix_micros at) {
  auto& call = entry.second;
  // The outside party: the trunk channels; a call that never had one
  // (internal) is seen from its originating phone.
  std::vector<const channel_record*> outside;
  bool has_trunk = false;
  for (auto& ch : call.channels)
    if (ch.kind == channel_kind::trunk) {
      has_trunk = true;
      if (!ch.hung_up)
        outside.push_back(&ch);
    }
  if (!has_trunk && call.orig >= 0 && !call.channels[call.orig].hung_up)
    outside.push_back(&call.channels[call.orig]);
  // Walk the bridges the outside party is in, and on through Local pairs
  // (queue members, attended-transfer targets), collecting the phones that
  // are not holding the call.
  std::vector<std::string> bridges;
  for (auto* ch : outside)
    if (!ch->bridge.empty()
        && std::find(bridges.begin(), bridges.end(), ch->bridge)
               == bridges.end())
      bridges.push_back(ch->bridge);
  std::vector<const channel_record*> persons;
  for (size_t b = 0; b < bridges.size() && b < max_bridges_walked; ++b) {
    auto i = pbx.bridges.find(bridges[b]);
    if (i == pbx.bridges.end())
      continue;
    auto members = i->second; // lookups below may not touch it, but be safe
    for (auto& uniqueid : members) {
      auto* ch = lookup(pbx, uniqueid);
      if (ch == nullptr || ch->hung_up
          || std::find(outside.begin(), outside.end(), ch) != outside.end())
        continue;
      if (ch->kind == channel_kind::phone && !ch->held) {
        if (std::find(persons.begin(), persons.end(), ch) == persons.end())
          persons.push_back(ch);
      } else if (ch->kind == channel_kind::local && !ch->partner.empty()) {
        auto* peer = lookup(pbx, ch->partner);
        if (peer != nullptr && !peer->bridge.empty()
            && std::find(bridges.begin(), bridges.end(), peer->bridge)
                   == bridges.end())
          bridges.push_back(peer->bridge);
      }
    }
  }
  for (auto* p : persons) {
    if (call.first_person.empty())
      call.first_person = p->endpoint;
    if (call.talked_to.size() < max_talked_to
        && std::find(call.talked_to.begin(), call.talked_to.end(), p->name_hash)
               == call.talked_to.end())
      call.talked_to.push_back(p->name_hash);
  }
  const bool connected = !persons.empty();
  if (connected && notices_ != nullptr) {
    // Still talking to the person already named: no news.
    bool same = false;
    for (auto* p : persons)
      same = same || p->endpoint == call.noticed_person;
    if (!same)
      notice_person(pbx, entry, persons.front()->endpoint, at);
  }
  if (connected && call.connected_since == 0) {
    call.connected_since = std::max<unix_micros>(at, 1);
    if (!call.ever_connected) {
      call.ever_connected = true;
      call.first_connected_at = at;
    }
  } else if (!connected && call.connected_since != 0) {
    call.talk += std::max<unix_micros>(0, at - call.connected_since);
    call.connected_since = 0;
  }
}

void call_correlator::adopt(pbx_state& pbx, call_entry& into, call_entry& from,
                            std::string_view uniqueid, unix_micros at,
                            unix_micros received) {
  if (&into == &from)
    return;
  if (uniqueid == from.first) {
    // The originating channel of `from` joined `into`: `from` was never a
    // call of its own (park retriever, picking phone).
    merge(pbx, into, from, received);
    return;
  }
  auto& source = from.second.channels;
  auto i = std::find_if(source.begin(), source.end(),
                        [&](auto& ch) { return ch.uniqueid == uniqueid; });
  if (i == source.end())
    return;
  auto moved = std::move(*i);
  source.erase(i);
  auto& src = from.second;
  src.orig = -1;
  for (size_t k = 0; k < source.size(); ++k)
    if (source[k].uniqueid == from.first)
      src.orig = static_cast<int8_t>(k);
  pbx.channel_calls[moved.uniqueid] = &into;
  into.second.channels.push_back(std::move(moved));
  into.second.closing = false;
  update_connection(pbx, from, at);
  update_connection(pbx, into, at);
  close_if_done(pbx, from, received);
}

void call_correlator::merge(pbx_state& pbx, call_entry& into, call_entry& from,
                            unix_micros received) {
  auto& x = from.second;
  auto& y = into.second;
  for (auto& ch : x.channels) {
    pbx.channel_calls[ch.uniqueid] = &into;
    y.channels.push_back(std::move(ch));
  }
  for (auto& row : x.cdr) {
    if (y.cdr.size() >= 255)
      break;
    row.from_orig = false;
    y.cdr.push_back(row);
  }
  y.first_at = std::min(y.first_at, x.first_at);
  y.last_at = std::max(y.last_at, x.last_at);
  y.end_at = std::max(y.end_at, x.end_at);
  y.closing = false;
  ++stats_.calls_merged;
  auto key = from.first;
  pbx.calls.erase(key);
  --live_;
  remember_finalized(pbx, key, received);
}

} // namespace sb
