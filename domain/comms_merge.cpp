#include "domain/comms_merge.hpp"

#include <utility>

namespace sb {

namespace {

constexpr std::string_view duration_prefix = "Call duration: ";

void append_notes(std::string& body, std::string_view notes) {
  if (!notes.empty()) {
    body += '\n';
    body += notes;
  }
}

} // namespace

std::string call_body(int64_t duration_seconds, std::string_view notes) {
  std::string body{duration_prefix};
  body += std::to_string(duration_seconds);
  body += 's';
  append_notes(body, notes);
  return body;
}

std::string incomplete_call_body(int64_t duration_seconds,
                                 std::string_view notes) {
  std::string body{duration_prefix};
  // The times are the best known: a call not seen to its end (or from its
  // start) lasted at least what was seen, and nothing is known past that.
  if (duration_seconds > 0) {
    body += "at least ";
    body += std::to_string(duration_seconds);
    body += 's';
  } else {
    body += "unknown";
  }
  body += " (the call was not seen from start to end)";
  append_notes(body, notes);
  return body;
}

std::string entry_body(bool incomplete, int64_t duration_seconds,
                       std::string_view notes) {
  return incomplete ? incomplete_call_body(duration_seconds, notes)
                    : call_body(duration_seconds, notes);
}

std::string body_notes(std::string_view body) {
  auto nl = body.find('\n');
  if (nl == std::string_view::npos)
    return {};
  return std::string{body.substr(nl + 1)};
}

int disposition_rank(std::string_view d) {
  if (d == "answered")
    return 3;
  if (d == "busy" || d == "failed")
    return 2;
  if (d == "no_answer")
    return 1;
  return 0;
}

bool merge_into(comms_entry& old, const comms_entry& incoming,
                bool incoming_knows_start) {
  comms_entry merged = old;
  auto take_text = [](std::string& dst, const std::string& src) {
    if (!src.empty())
      dst = src;
  };
  // An incomplete report's figures are lower bounds: they never replace
  // those of a report that saw the call through, only fill what it lacks.
  const bool guesses = incoming.incomplete && !old.incomplete;
  auto take_number = [guesses](int64_t& dst, int64_t src) {
    if (src != 0 && !(guesses && dst != 0))
      dst = src;
  };
  if (incoming.customer_id)
    merged.customer_id = incoming.customer_id;
  take_text(merged.direction, incoming.direction);
  take_text(merged.external_number, incoming.external_number);
  take_text(merged.extension, incoming.extension);
  take_text(merged.ucid, incoming.ucid);
  take_text(merged.origin, incoming.origin);
  take_text(merged.crm_ref, incoming.crm_ref);
  take_text(merged.recording, incoming.recording);
  take_text(merged.recording_url, incoming.recording_url);
  merged.incomplete = old.incomplete && incoming.incomplete;
  if (disposition_rank(incoming.disposition)
          >= disposition_rank(merged.disposition)
      && !(merged.disposition == "answered"
           && incoming.disposition != "answered"))
    take_text(merged.disposition, incoming.disposition);
  take_number(merged.duration_seconds, incoming.duration_seconds);
  take_number(merged.billsec, incoming.billsec);
  take_number(merged.talk_seconds, incoming.talk_seconds);
  // A report that does not know when the call started stored a stand-in
  // (its end, or its arrival): any report that knows the start replaces it.
  if (incoming_knows_start)
    merged.occurred_at = incoming.occurred_at;
  auto notes = body_notes(old.body);
  auto new_notes = body_notes(incoming.body);
  if (!new_notes.empty() && notes.find(new_notes) == std::string::npos)
    notes = notes.empty() ? new_notes : notes + "\n" + new_notes;
  merged.body = entry_body(merged.incomplete, merged.duration_seconds, notes);
  bool changed
      = merged.customer_id != old.customer_id
        || merged.direction != old.direction
        || merged.external_number != old.external_number
        || merged.extension != old.extension || merged.ucid != old.ucid
        || merged.origin != old.origin || merged.incomplete != old.incomplete
        || merged.crm_ref != old.crm_ref || merged.recording != old.recording
        || merged.recording_url != old.recording_url
        || merged.disposition != old.disposition
        || merged.duration_seconds != old.duration_seconds
        || merged.billsec != old.billsec
        || merged.talk_seconds != old.talk_seconds
        || merged.occurred_at != old.occurred_at || merged.body != old.body;
  old = std::move(merged);
  return changed;
}

} // namespace sb
