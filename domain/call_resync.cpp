// Re-sync after a login: Asterisk does not replay what happened while the
// AMI connection was down, so after every login the client asks what is
// live (`Action: CoreShowChannels`). The answer is one `CoreShowChannel`
// event per channel (Linkedid, state, bridge, duration), then
// `CoreShowChannelsComplete`. Calls still up are re-attached and end as
// ordinary calls; channels (and calls) missing from the list ended during
// the gap.

#include <algorithm>

#include "domain/ami_fields.hpp"
#include "domain/call_correlator.hpp"

namespace sb {

using namespace ami_fields;

void call_correlator::on_listed_channel(pbx_state& pbx, call_entry& entry,
                                        channel_record& ch, const fields& f,
                                        unix_micros at) {
  auto& call = entry.second;
  pbx.listed.insert(ch.uniqueid);
  // A call first seen in the list began while we were not listening.
  if (call.partial && call.channels.size() == 1) {
    auto seconds = parse_hms(f.duration);
    if (seconds > 0)
      call.first_at = std::min(call.first_at, at - seconds * micros_per_second);
  }
  if (f.uniqueid == entry.first && call.orig_caller.empty()) {
    call.orig_caller = clean_number(f.caller_id_num);
    call.orig_exten = f.exten;
  }
  // State 6 = Up; when it came up is unknown (in the gap), so no earlier
  // than now is claimed.
  if (f.channel_state == "6" && ch.up_at == 0)
    ch.up_at = at;
  if (f.bridge != ch.bridge) {
    std::string old = ch.bridge;
    leave_bridge(pbx, ch);
    enter_bridge(pbx, ch, f.bridge);
    reevaluate(pbx, entry, old, at);
  }
}

void call_correlator::on_list_complete(pbx_state& pbx, unix_micros at,
                                       unix_micros received, bool stamped,
                                       std::vector<completed_call>& out) {
  // What happened between the last event seen and now is only in the
  // PBX's CDR; at start-up, everything since the last call logged.
  cdr_gap gap;
  gap.pbx = pbx.config.name;
  gap.startup = !pbx.lost;
  gap.from = pbx.lost ? pbx.stamp_at_loss : 0;
  gap.to = stamped ? at : 0;
  pbx.lost = false;
  std::vector<std::string> ended;
  for (auto& entry : pbx.calls) {
    auto& call = entry.second;
    if (!call.before_loss || call.closing)
      continue;
    call.before_loss = false;
    bool any_listed = false;
    for (auto& ch : call.channels)
      any_listed = any_listed || pbx.listed.count(ch.uniqueid) > 0;
    if (!any_listed) {
      ended.push_back(entry.first);
      continue;
    }
    call.orphaned_at = 0;
    call.spanned_gap = true;
    // Its channels missing from the list hung up during the gap.
    for (auto& ch : call.channels) {
      if (ch.hung_up || pbx.listed.count(ch.uniqueid) > 0)
        continue;
      ch.hung_up = true;
      ch.hangup_at = at;
      leave_bridge(pbx, ch);
    }
    update_connection(pbx, entry, at);
  }
  pbx.listed.clear();
  for (auto& entry : pbx.calls)
    if (std::find(ended.begin(), ended.end(), entry.first) == ended.end())
      gap.live.push_back(entry.first);
  gaps_.push_back(std::move(gap));
  // Nothing of these is up any more: they ended unseen, their last Hangup
  // never came.
  for (auto& linkedid : ended)
    finalize(pbx, linkedid, true, received, out);
}

} // namespace sb
