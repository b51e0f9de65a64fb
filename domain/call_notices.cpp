// What the correlator tells about live calls before they end (the event
// log's call.ringing, call.answered, call.transferred): given as they
// happen, not when the call is finalized, so a CRM can show the caller
// while the phone rings.

#include "core/strings.hpp"
#include "domain/ami_fields.hpp"
#include "domain/call_correlator.hpp"
#include "domain/call_summary.hpp"
#include "messages/originate.hpp"

namespace sb {

namespace {

live_notice base_notice(const std::string& origin, const std::string& linkedid,
                        const call_record& call, live_notice_kind kind,
                        unix_micros at) {
  // The same rules as the entry at the end, applied to what is known now.
  auto c = summarize_call(origin, linkedid, call, false);
  live_notice n;
  n.kind = kind;
  n.call_id = linkedid;
  n.origin = origin;
  n.direction = to_string(c.direction);
  n.external_number = std::move(c.external_number);
  n.did = std::move(c.did);
  n.extension = std::move(c.extension);
  n.request_id = call.request_id;
  n.at = at;
  return n;
}

} // namespace

void call_correlator::notice_ringing(pbx_state& pbx, call_entry& entry,
                                     const channel_record& rung,
                                     unix_micros at) {
  auto& call = entry.second;
  const bool phone = rung.kind == channel_kind::phone && !rung.endpoint.empty();
  // A phone rings (inbound, internal, a transfer target): one notice per
  // phone. A call leaving through a trunk (outbound): one notice, for the
  // phone that placed it.
  if (!phone && (rung.kind != channel_kind::trunk || call.ring_noticed))
    return;
  auto n = base_notice(pbx.config.name, entry.first, call,
                       live_notice_kind::ringing, at);
  for (auto& ch : call.channels)
    if (ch.kind == channel_kind::phone && ch.dial_order > 0
        && !ch.endpoint.empty())
      n.extensions.push_back(ch.endpoint);
  if (phone) {
    n.extension = rung.endpoint;
  } else if (n.extensions.empty() && !n.extension.empty()) {
    n.extensions.push_back(n.extension);
  }
  call.ring_noticed = true;
  notices_->push_back(std::move(n));
}

void call_correlator::notice_person(pbx_state& pbx, call_entry& entry,
                                    const std::string& person,
                                    unix_micros at) {
  auto& call = entry.second;
  if (person.empty())
    return;
  auto kind = call.noticed_person.empty() ? live_notice_kind::answered
                                          : live_notice_kind::transferred;
  auto n = base_notice(pbx.config.name, entry.first, call, kind, at);
  n.from_extension = call.noticed_person;
  n.extension = person;
  call.noticed_person = person;
  notices_->push_back(std::move(n));
}

void call_correlator::on_own_originate(pbx_state& pbx, const fields& f,
                                       call_entry* entry) {
  std::string request_id{f.action_id};
  if (entry != nullptr && entry->second.request_id.empty())
    entry->second.request_id = request_id;
  if (notices_ == nullptr || !iequals(f.response, "Failure"))
    return;
  live_notice n;
  n.kind = live_notice_kind::originate_failed;
  n.origin = pbx.config.name;
  if (entry != nullptr)
    n.call_id = entry->first;
  n.direction = "outbound";
  n.external_number = std::string{f.exten};
  n.extension = std::string{ami_fields::endpoint_of(f.channel)};
  n.request_id = std::move(request_id);
  n.reason_code = ami_fields::parse_int(f.reason, 0);
  n.reason = originate_failure_reason(n.reason_code);
  n.at = entry != nullptr ? entry->second.last_at : 0;
  notices_->push_back(std::move(n));
}

} // namespace sb
