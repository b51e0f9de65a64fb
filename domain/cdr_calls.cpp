#include "domain/cdr_calls.hpp"

#include <algorithm>
#include <map>
#include <string_view>
#include <utility>

#include "core/strings.hpp"
#include "domain/ami_fields.hpp"

namespace sb {

namespace {

using ami_fields::endpoint_of;
using ami_fields::micros_per_second;
using ami_fields::looks_external;

enum class party { none, phone, trunk, local };

party kind_of(const pbx_config& pbx, std::string_view channel) {
  if (channel.empty())
    return party::none;
  if (starts_with(channel, "Local/"))
    return party::local;
  for (const auto& prefix : pbx.trunks)
    if (!prefix.empty() && starts_with(channel, prefix))
      return party::trunk;
  auto endpoint = endpoint_of(channel);
  bool digits = !endpoint.empty();
  for (char c : endpoint)
    digits = digits && c >= '0' && c <= '9';
  return digits ? party::phone : party::trunk;
}

using interval = std::pair<unix_micros, unix_micros>;

/// Whole seconds covered by the union of `spans`.
int64_t union_seconds(std::vector<interval> spans) {
  std::sort(spans.begin(), spans.end());
  unix_micros total = 0;
  unix_micros open = 0;
  unix_micros close = 0;
  bool any = false;
  for (auto& [from, to] : spans) {
    if (to <= from)
      continue;
    if (!any || from > close) {
      total += close - open;
      open = from;
      close = to;
      any = true;
    } else {
      close = std::max(close, to);
    }
  }
  total += close - open;
  return total / micros_per_second;
}

unix_micros end_of(const cdr_record& r) {
  return r.start + r.duration * micros_per_second;
}

/// The span in which the row's destination was answered.
interval answered_span(const cdr_record& r) {
  return {end_of(r) - r.billsec * micros_per_second, end_of(r)};
}

call_disposition from_cdr(const std::string& d) {
  if (d == "BUSY")
    return call_disposition::busy;
  if (d == "FAILED" || d == "CONGESTION")
    return call_disposition::failed;
  return call_disposition::no_answer;
}

struct call_rows {
  const pbx_config& pbx;
  std::vector<const cdr_record*> rows; // by sequence
  const cdr_record* orig = nullptr;

  party kind(const std::string& channel) const {
    return kind_of(pbx, channel);
  }

  bool names_trunk(const cdr_record& r) const {
    return kind(r.channel) == party::trunk
           || kind(r.dstchannel) == party::trunk;
  }

  bool person_answered(const cdr_record& r, call_direction d) const {
    if (r.disposition != "ANSWERED" || r.billsec <= 0)
      return false;
    auto dest = kind(r.dstchannel);
    return d == call_direction::outbound ? dest == party::trunk
                                         : dest == party::phone;
  }
};

call_direction direction_of(const call_rows& c) {
  if (c.kind(c.orig->channel) == party::trunk)
    return call_direction::inbound;
  for (const auto* r : c.rows)
    if (c.names_trunk(*r))
      return call_direction::outbound;
  if (looks_external(c.orig->dst))
    return call_direction::outbound;
  return call_direction::internal;
}

void fill_parties(const call_rows& c, const cdr_record* first_answer,
                  completed_call& out) {
  const auto& orig = *c.orig;
  auto endpoint = [](const std::string& channel) {
    return std::string{endpoint_of(channel)};
  };
  switch (out.direction) {
    case call_direction::inbound: {
      out.external_number = std::string{ami_fields::clean_number(orig.src)};
      out.did = orig.did;
      if (first_answer != nullptr) {
        out.extension = endpoint(first_answer->dstchannel);
        break;
      }
      std::string only;
      bool several = false;
      for (const auto* r : c.rows)
        if (c.kind(r->dstchannel) == party::phone) {
          auto e = endpoint(r->dstchannel);
          several = several || (!only.empty() && e != only);
          only = e;
        }
      if (!several)
        out.extension = only;
      break;
    }
    case call_direction::outbound:
      out.extension = endpoint(orig.channel);
      out.external_number = orig.dst;
      for (const auto* r : c.rows)
        if (c.kind(r->dstchannel) == party::trunk && looks_external(r->dst)) {
          out.external_number = r->dst;
          break;
        }
      break;
    case call_direction::internal:
      out.extension = endpoint(orig.channel);
      if (first_answer != nullptr)
        out.peer_extension = endpoint(first_answer->dstchannel);
      else
        for (const auto* r : c.rows)
          if (c.kind(r->dstchannel) == party::phone) {
            out.peer_extension = endpoint(r->dstchannel);
            break;
          }
      break;
  }
}

completed_call build(const call_rows& c) {
  completed_call out;
  out.source = "ami";
  out.origin = c.pbx.name;
  out.ext_message_id = c.orig->linkedid;
  out.recovered = "cdr";
  out.direction = direction_of(c);
  const cdr_record* first_answer = nullptr;
  bool has_trunk = false;
  for (const auto* r : c.rows)
    has_trunk = has_trunk || c.names_trunk(*r);
  std::vector<interval> outside;
  std::vector<interval> talk;
  out.started_at = c.rows.front()->start;
  for (const auto* r : c.rows) {
    out.started_at = std::min(out.started_at, r->start);
    out.ended_at = std::max(out.ended_at, end_of(*r));
    if (c.person_answered(*r, out.direction)) {
      if (first_answer == nullptr)
        first_answer = r;
      talk.push_back(answered_span(*r));
    }
    // The outside party's billed time: any row naming a trunk with billed
    // seconds, also one the PBX answered (queue, voicemail, park); a call
    // with no outside party bills its answered rows.
    if (r->billsec > 0 && (c.names_trunk(*r) || !has_trunk))
      outside.push_back(answered_span(*r));
    if (out.recording.empty() && !r->recordingfile.empty())
      out.recording = r->recordingfile;
  }
  fill_parties(c, first_answer, out);
  if (first_answer != nullptr) {
    out.disposition = call_disposition::answered;
    out.answered_at = answered_span(*first_answer).first;
  } else {
    out.disposition = call_disposition::no_answer;
    for (const auto* r : c.rows)
      if (r->channel == c.orig->channel) {
        if (r->disposition != "ANSWERED")
          out.disposition = from_cdr(r->disposition);
        break;
      }
  }
  out.duration_seconds = (out.ended_at - out.started_at) / micros_per_second;
  // An outbound call the far end never answered is not billed, whatever
  // the calling phone's own legs say.
  out.billsec = out.direction == call_direction::outbound && first_answer == nullptr
                    ? 0
                    : union_seconds(std::move(outside));
  out.talk_seconds = union_seconds(std::move(talk));
  out.recording_url = recording_url_of(c.pbx.recording_url, out.recording);
  return out;
}

} // namespace

std::string recording_url_of(const std::string& recording_template,
                             const std::string& file) {
  if (recording_template.empty() || file.empty())
    return {};
  return replace_all(recording_template, "{file}", file);
}

std::vector<completed_call> calls_from_cdr(std::vector<cdr_record> rows,
                                           const pbx_config& pbx) {
  std::stable_sort(rows.begin(), rows.end(),
                   [](const cdr_record& a, const cdr_record& b) {
                     return a.start != b.start ? a.start < b.start
                                               : a.sequence < b.sequence;
                   });
  // Calls in order of their first row; each call's rows by sequence.
  std::vector<std::string> order;
  std::map<std::string, call_rows> calls;
  for (const auto& r : rows) {
    if (r.linkedid.empty())
      continue;
    auto i = calls.find(r.linkedid);
    if (i == calls.end()) {
      i = calls.emplace(r.linkedid, call_rows{pbx, {}, nullptr}).first;
      order.push_back(r.linkedid);
    }
    i->second.rows.push_back(&r);
  }
  std::vector<completed_call> out;
  out.reserve(order.size());
  for (const auto& linkedid : order) {
    auto& c = calls.at(linkedid);
    std::stable_sort(c.rows.begin(), c.rows.end(),
                     [](const cdr_record* a, const cdr_record* b) {
                       return a->sequence < b->sequence;
                     });
    for (const auto* r : c.rows)
      if (r->uniqueid == linkedid) {
        c.orig = r;
        break;
      }
    if (c.orig == nullptr)
      c.orig = c.rows.front();
    out.push_back(build(c));
  }
  return out;
}

} // namespace sb
