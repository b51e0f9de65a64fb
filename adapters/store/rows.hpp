#pragma once

// Row binding of the comms log and customers: the bound parameters of an
// INSERT, the multi-row INSERT of write_calls, the output rows of SELECTs.
// SOCI binds by reference: fill the structs, then execute.

#include <cstddef>
#include <string>
#include <vector>

#include <soci/soci.h>

#include "adapters/store/database.hpp"
#include "messages/calls.hpp"
#include "messages/comms.hpp"

namespace sb::store::rows {

// The customer's name is read with the entry, never stored: a renamed
// customer shows the new name on every entry. A subquery rather than a join
// keeps the callers' WHERE clauses unqualified.
inline constexpr const char* comms_columns
    = "id, customer_id, type, direction, body, source, ext_message_id,"
      " external_number, extension, disposition, duration_seconds, billsec,"
      " talk_seconds, ucid, occurred_at, created_at, origin, incomplete,"
      " crm_ref, recording, updated_at, external_e164, recovered,"
      " recording_url, request_id,"
      " (SELECT name FROM customers"
      "  WHERE customers.id = crm_comms_log.customer_id)";

inline constexpr const char* insert_comms_sql
    = "INSERT INTO crm_comms_log (customer_id, type, direction, body, source,"
      " ext_message_id, external_number, extension, disposition,"
      " duration_seconds, billsec, talk_seconds, ucid, occurred_at, created_at,"
      " origin, incomplete, crm_ref, recording, updated_at, external_e164,"
      " recovered, recording_url, request_id)"
      " VALUES (:customer_id, :type, :direction, :body, :source,"
      " :ext_message_id, :external_number, :extension, :disposition,"
      " :duration_seconds, :billsec, :talk_seconds, :ucid, :occurred_at,"
      " :created_at, :origin, :incomplete, :crm_ref, :recording, :updated_at,"
      " :external_e164, :recovered, :recording_url, :request_id)";

inline constexpr const char* customer_columns
    = "id, name, phone, phone_e164, created_at, external_id, updated_at";

/// A time as the database hands it back, in our fixed-width form
/// (2026-11-21T22:09:58Z): SQLite returns what was written, PostgreSQL
/// renders its timestamptz ("2026-11-21 22:09:58+00").
std::string canonical_time(const std::string& stored);

// Bound parameters of one comms-log row (SOCI binds by reference: fill, then
// execute).
struct comms_params {
  long long customer_id = 0;
  soci::indicator customer_ind = soci::i_null;
  std::string type;
  std::string direction;
  std::string body;
  std::string source;
  std::string ext_message_id;
  soci::indicator ext_ind = soci::i_null;
  std::string external_number;
  std::string extension;
  std::string disposition;
  long long duration_seconds = 0;
  long long billsec = 0;
  long long talk_seconds = 0;
  std::string ucid;
  std::string occurred_at;
  std::string created_at;
  std::string origin;
  /// 0 or 1: an INTEGER on both backends (SOCI reads no portable bool).
  int incomplete = 0;
  std::string crm_ref;
  std::string recording;
  std::string updated_at;
  std::string external_e164;
  std::string recovered;
  std::string recording_url;
  /// The click-to-call request that placed the call; empty for others.
  std::string request_id;

  void assign(const comms_entry& e) {
    customer_ind = e.customer_id ? soci::i_ok : soci::i_null;
    customer_id = e.customer_id ? *e.customer_id : 0;
    type = e.type;
    direction = e.direction;
    body = e.body;
    source = e.source;
    ext_message_id = e.ext_message_id;
    ext_ind = e.ext_message_id.empty() ? soci::i_null : soci::i_ok;
    external_number = e.external_number;
    extension = e.extension;
    disposition = e.disposition;
    duration_seconds = e.duration_seconds;
    billsec = e.billsec;
    talk_seconds = e.talk_seconds;
    ucid = e.ucid;
    occurred_at = e.occurred_at;
    created_at = e.created_at;
    origin = e.origin;
    incomplete = e.incomplete ? 1 : 0;
    crm_ref = e.crm_ref;
    recording = e.recording;
    updated_at = e.updated_at.empty() ? e.created_at : e.updated_at;
    external_e164 = e.external_e164;
    recovered = e.recovered;
    recording_url = e.recording_url;
    request_id = e.request_id;
  }
};

// The per-row hot path of write_calls: assigning into the bound strings
// reuses their capacity, so a batch allocates (almost) only once.
void assign_call(comms_params& p, const matched_call& m,
                 const std::string& created_at, unix_micros now);

template <class Statement>
void bind_params(Statement& st, comms_params& p) {
  st.exchange(soci::use(p.customer_id, p.customer_ind));
  st.exchange(soci::use(p.type));
  st.exchange(soci::use(p.direction));
  st.exchange(soci::use(p.body));
  st.exchange(soci::use(p.source));
  st.exchange(soci::use(p.ext_message_id, p.ext_ind));
  st.exchange(soci::use(p.external_number));
  st.exchange(soci::use(p.extension));
  st.exchange(soci::use(p.disposition));
  st.exchange(soci::use(p.duration_seconds));
  st.exchange(soci::use(p.billsec));
  st.exchange(soci::use(p.talk_seconds));
  st.exchange(soci::use(p.ucid));
  st.exchange(soci::use(p.occurred_at));
  st.exchange(soci::use(p.created_at));
  st.exchange(soci::use(p.origin));
  st.exchange(soci::use(p.incomplete));
  st.exchange(soci::use(p.crm_ref));
  st.exchange(soci::use(p.recording));
  st.exchange(soci::use(p.updated_at));
  st.exchange(soci::use(p.external_e164));
  st.exchange(soci::use(p.recovered));
  st.exchange(soci::use(p.recording_url));
  st.exchange(soci::use(p.request_id));
}

// One INSERT of up to max_rows rows: a round trip per chunk instead of per
// row (PostgreSQL), and far less binding work per row (both). Prepared once
// per write_calls and executed for every full chunk.
struct multi_insert {
  static constexpr size_t max_rows = 100;
  static constexpr size_t columns = 24;

  /// Bound by reference: fill rows[0..n) then run().
  std::vector<comms_params> rows;
  std::vector<std::string> returned;
  soci::statement st;

  multi_insert(soci::session& sql, backend kind, size_t n);

  /// Executes and hands each inserted row's identity_key() to `f`.
  template <class F>
  void run(F&& f) {
    // One more slot than rows: SOCI fetches a one-element vector through
    // its single-row path, which loses RETURNING rows on SQLite.
    returned.resize(rows.size() + 1);
    bool got = st.execute(true);
    while (got) {
      for (auto& id : returned)
        f(id);
      // Reading to the end also lets SQLite finish the statement, which it
      // needs before COMMIT.
      returned.resize(rows.size() + 1);
      got = st.fetch();
    }
  }
};

// Output columns of `comms_columns`, in order: the row's id, then the same
// columns an INSERT binds.
struct comms_row : comms_params {
  long long id = 0;
  std::string customer_name;
  soci::indicator name_ind = soci::i_null;

  comms_entry entry() const {
    comms_entry e;
    e.id = id;
    if (customer_ind == soci::i_ok)
      e.customer_id = customer_id;
    e.type = type;
    e.direction = direction;
    e.body = body;
    e.source = source;
    if (ext_ind == soci::i_ok)
      e.ext_message_id = ext_message_id;
    e.external_number = external_number;
    e.extension = extension;
    e.disposition = disposition;
    e.duration_seconds = duration_seconds;
    e.billsec = billsec;
    e.talk_seconds = talk_seconds;
    e.ucid = ucid;
    e.occurred_at = canonical_time(occurred_at);
    e.created_at = canonical_time(created_at);
    e.origin = origin;
    e.incomplete = incomplete != 0;
    e.crm_ref = crm_ref;
    e.recording = recording;
    e.updated_at = canonical_time(updated_at);
    e.external_e164 = external_e164;
    e.request_id = request_id;
    if (name_ind == soci::i_ok)
      e.customer_name = customer_name;
    e.recovered = recovered;
    e.recording_url = recording_url;
    return e;
  }
};

void bind_row(soci::statement& st, comms_row& r);

/// A row's identity within its source as the multi-row INSERT returns it:
/// origin, '|', ext_message_id.
inline std::string identity_key(const completed_call& c) {
  return c.origin + '|' + c.ext_message_id;
}

struct customer_row {
  long long id = 0;
  std::string name;
  std::string phone;
  std::string phone_e164;
  std::string created_at;
  std::string external_id;
  std::string updated_at;

  customer value() const {
    return customer{id,
                    name,
                    phone,
                    phone_e164,
                    canonical_time(created_at),
                    external_id,
                    canonical_time(updated_at)};
  }
};

void bind_row(soci::statement& st, customer_row& r);

comms_entry to_entry(const matched_call& m, const std::string& created_at,
                     unix_micros now);

} // namespace sb::store::rows
