#pragma once

// Rows of the CRM comms log and customers, as the store and the HTTP API see
// them (the columns in docs/architecture.md, the API in docs/openapi.yaml).

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

namespace sb {

struct customer {
  int64_t id = 0;
  std::string name;
  /// As entered.
  std::string phone;
  /// Normalized (E.164) or empty when the number does not parse.
  std::string phone_e164;
  std::string created_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, customer& x) {
  return f(caf::meta::type_name("customer"), x.id, x.name, x.phone,
           x.phone_e164, x.created_at);
}

struct comms_entry {
  int64_t id = 0;
  caf::optional<int64_t> customer_id;
  std::string type = "call";
  std::string direction;
  std::string body;
  /// "ami" | "ozonetel" | "manual"
  std::string source;
  std::string ext_message_id;
  std::string external_number;
  std::string extension;
  /// "answered" | "no_answer" | "busy" | "failed", empty for manual entries
  /// that do not say.
  std::string disposition;
  int64_t duration_seconds = 0;
  int64_t billsec = 0;
  int64_t talk_seconds = 0;
  std::string ucid;
  /// UTC ISO-8601, e.g. 2026-11-21T22:09:58Z.
  std::string occurred_at;
  std::string created_at;
  /// Which PBX (its config name), CloudAgent account or "manual" the entry
  /// came from; empty for entries written before it was recorded.
  std::string origin;
  /// The call was not seen from start to end (connection lost, PBX
  /// restarted, joined mid-way, never ended within the maximum age): the
  /// durations are the best known lower bounds, not exact.
  bool incomplete = false;
  /// The CRM's own reference for the entry (the seed's leadId); empty when
  /// none.
  std::string crm_ref;
  /// The call's recording (CloudAgent's AudioFile); empty when none.
  std::string recording;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, comms_entry& x) {
  return f(caf::meta::type_name("comms_entry"), x.id, x.customer_id, x.type,
           x.direction, x.body, x.source, x.ext_message_id, x.external_number,
           x.extension, x.disposition, x.duration_seconds, x.billsec,
           x.talk_seconds, x.ucid, x.occurred_at, x.created_at, x.origin,
           x.incomplete, x.crm_ref, x.recording);
}

/// Filters of GET /api/crm/comms. Empty strings / none mean "any".
struct comms_query {
  std::string type;
  caf::optional<int64_t> customer_id;
  std::string direction;
  std::string source;
  /// answered, no_answer, busy or failed; empty = any.
  std::string disposition;
  std::string since;
  std::string until;
  /// Keyset cursor: return entries older than this (occurred_at, id).
  std::string cursor_occurred_at;
  int64_t cursor_id = 0;
  int64_t limit = 50;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, comms_query& x) {
  return f(caf::meta::type_name("comms_query"), x.type, x.customer_id,
           x.direction, x.source, x.disposition, x.since, x.until,
           x.cursor_occurred_at, x.cursor_id, x.limit);
}

} // namespace sb
