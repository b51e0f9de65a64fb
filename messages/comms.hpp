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
  /// The CRM's own id for this person (unique when not empty).
  std::string external_id;
  /// Set on insert and on every change.
  std::string updated_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, customer& x) {
  return f(caf::meta::type_name("customer"), x.id, x.name, x.phone,
           x.phone_e164, x.created_at, x.external_id, x.updated_at);
}

/// A change to one customer: the fields set are replaced, the rest kept.
/// `phone` and `phone_e164` change together (the caller normalizes).
struct customer_patch {
  int64_t id = 0;
  caf::optional<std::string> name;
  caf::optional<std::string> phone;
  std::string phone_e164;
  caf::optional<std::string> external_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, customer_patch& x) {
  return f(caf::meta::type_name("customer_patch"), x.id, x.name, x.phone,
           x.phone_e164, x.external_id);
}

/// What adding, changing or deleting a customer did.
struct customer_change {
  /// The customer as stored now (as it was, for a delete).
  customer value;
  /// An Idempotency-Key was used before: `value` is the first answer and
  /// nothing was written.
  bool replayed = false;
  /// Unmatched comms entries that now carry this customer (its number is
  /// theirs).
  std::vector<int64_t> matched_entries;
  /// Entries that carried this customer and no longer do (delete).
  int64_t detached_entries = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, customer_change& x) {
  return f(caf::meta::type_name("customer_change"), x.value, x.replayed,
           x.matched_entries, x.detached_entries);
}

/// Filters of GET /api/crm/customers. Empty means "any".
struct customer_query {
  std::string phone_e164;
  std::string external_id;
  /// Keyset cursor: customers with a larger id.
  int64_t after_id = 0;
  int64_t limit = 50;
};

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
  /// Set on insert and on every merge or re-match (what a CRM syncs by).
  std::string updated_at;
  /// The customer's name, read with the entry (never stored); empty when
  /// the entry has no customer.
  std::string customer_name;
  /// The outside number in E.164 as the matcher read it (empty when it does
  /// not normalize); what re-matching and the external_number filter use.
  std::string external_e164;
  /// "cdr" when the entry was rebuilt from the PBX's CDR database (its
  /// events were never seen: connection down, switchboard stopped), else "".
  std::string recovered;
  /// Where to fetch a PBX recording (pbx.<name>.recording_url); empty
  /// without one.
  std::string recording_url;
  /// The POST /api/calls/originate request that placed the call; empty for
  /// every other entry.
  std::string request_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, comms_entry& x) {
  return f(caf::meta::type_name("comms_entry"), x.id, x.customer_id, x.type,
           x.direction, x.body, x.source, x.ext_message_id, x.external_number,
           x.extension, x.disposition, x.duration_seconds, x.billsec,
           x.talk_seconds, x.ucid, x.occurred_at, x.created_at, x.origin,
           x.incomplete, x.crm_ref, x.recording, x.updated_at,
           x.customer_name, x.external_e164, x.recovered, x.recording_url,
           x.request_id);
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
  /// Entries changed at or after this time; the page is then ordered by
  /// (updated_at, id) instead of (occurred_at, id).
  std::string updated_since;
  /// Entries whose outside number is this (E.164).
  std::string external_e164;
  /// Oldest first instead of newest first.
  bool ascending = false;
  /// Keyset cursor: return entries after this (time, id) in the page order;
  /// the time is occurred_at, or updated_at with updated_since.
  std::string cursor_occurred_at;
  int64_t cursor_id = 0;
  int64_t limit = 50;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, comms_query& x) {
  return f(caf::meta::type_name("comms_query"), x.type, x.customer_id,
           x.direction, x.source, x.disposition, x.since, x.until,
           x.updated_since, x.external_e164, x.ascending, x.cursor_occurred_at,
           x.cursor_id, x.limit);
}

} // namespace sb
