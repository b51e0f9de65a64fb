#include "adapters/store/rows.hpp"

#include "core/time.hpp"
#include "domain/comms_merge.hpp"

namespace sb::store::rows {

std::string canonical_time(const std::string& stored) {
  // The common case costs one size check: what we wrote, read back.
  if (stored.size() == 20 && stored[10] == 'T' && stored[19] == 'Z')
    return stored;
  if (auto t = parse_iso8601(stored))
    return iso8601_utc(*t);
  return stored;
}

// The per-row hot path of write_calls: assigning into the bound strings
// reuses their capacity, so a batch allocates (almost) only once.
void assign_call(comms_params& p, const matched_call& m,
                 const std::string& created_at, unix_micros now) {
  const auto& c = m.call;
  p.customer_ind = m.customer_id ? soci::i_ok : soci::i_null;
  p.customer_id = m.customer_id ? *m.customer_id : 0;
  p.type = "call";
  p.direction = to_string(c.direction);
  if (c.incomplete) {
    p.body = incomplete_call_body(c.duration_seconds, c.notes);
  } else {
    p.body = "Call duration: ";
    p.body += std::to_string(c.duration_seconds);
    p.body += 's';
    if (!c.notes.empty()) {
      p.body += '\n';
      p.body += c.notes;
    }
  }
  p.source = c.source;
  p.ext_message_id = c.ext_message_id;
  p.ext_ind = c.ext_message_id.empty() ? soci::i_null : soci::i_ok;
  p.external_number = c.external_number;
  p.extension = c.extension;
  p.disposition = to_string(c.disposition);
  p.duration_seconds = c.duration_seconds;
  p.billsec = c.billsec;
  p.talk_seconds = c.talk_seconds;
  p.ucid = c.ucid;
  p.occurred_at = iso8601_utc(
      c.started_at != 0 ? c.started_at : (c.ended_at != 0 ? c.ended_at : now));
  p.created_at = created_at;
  p.origin = c.origin;
  p.incomplete = c.incomplete ? 1 : 0;
  p.crm_ref = c.crm_ref;
  p.recording = c.recording;
  p.updated_at = created_at;
  p.request_id = c.request_id;
  if (c.direction == call_direction::internal)
    p.external_e164.clear();
  else
    p.external_e164 = m.external_e164;
  p.recovered = c.recovered;
  p.recording_url = c.recording_url;
}

multi_insert::multi_insert(soci::session& sql, backend kind, size_t n)
    : rows(n), returned(n + 1), st(sql) {
  for (auto& p : rows)
    bind_params(st, p);
  st.exchange(soci::into(returned));
  // SQLite takes anonymous `?` (it looks names up linearly, which costs
  // more than the insert for 1,500 of them); SOCI turns unique `:names`
  // into PostgreSQL's `$n`.
  std::string q
      = "INSERT INTO crm_comms_log (customer_id, type, direction, body,"
        " source, ext_message_id, external_number, extension, disposition,"
        " duration_seconds, billsec, talk_seconds, ucid, occurred_at,"
        " created_at, origin, incomplete, crm_ref, recording, updated_at,"
        " external_e164, recovered, recording_url, request_id) VALUES ";
  size_t v = 0;
  for (size_t r = 0; r < n; ++r) {
    q += r == 0 ? "(" : ", (";
    for (size_t c = 0; c < columns; ++c) {
      if (c > 0)
        q += ", ";
      if (kind == backend::sqlite) {
        q += '?';
      } else {
        q += ":v";
        q += std::to_string(v++);
      }
    }
    q += ')';
  }
  q += " ON CONFLICT (source, origin, ext_message_id) DO NOTHING"
       " RETURNING origin || '|' || COALESCE(ext_message_id, '')";
  st.alloc();
  st.prepare(q);
  st.define_and_bind();
}

void bind_row(soci::statement& st, comms_row& r) {
  st.exchange(soci::into(r.id));
  st.exchange(soci::into(r.customer_id, r.customer_ind));
  st.exchange(soci::into(r.type));
  st.exchange(soci::into(r.direction));
  st.exchange(soci::into(r.body));
  st.exchange(soci::into(r.source));
  st.exchange(soci::into(r.ext_message_id, r.ext_ind));
  st.exchange(soci::into(r.external_number));
  st.exchange(soci::into(r.extension));
  st.exchange(soci::into(r.disposition));
  st.exchange(soci::into(r.duration_seconds));
  st.exchange(soci::into(r.billsec));
  st.exchange(soci::into(r.talk_seconds));
  st.exchange(soci::into(r.ucid));
  st.exchange(soci::into(r.occurred_at));
  st.exchange(soci::into(r.created_at));
  st.exchange(soci::into(r.origin));
  st.exchange(soci::into(r.incomplete));
  st.exchange(soci::into(r.crm_ref));
  st.exchange(soci::into(r.recording));
  st.exchange(soci::into(r.updated_at));
  st.exchange(soci::into(r.external_e164));
  st.exchange(soci::into(r.recovered));
  st.exchange(soci::into(r.recording_url));
  st.exchange(soci::into(r.request_id));
  st.exchange(soci::into(r.customer_name, r.name_ind));
}

void bind_row(soci::statement& st, customer_row& r) {
  st.exchange(soci::into(r.id));
  st.exchange(soci::into(r.name));
  st.exchange(soci::into(r.phone));
  st.exchange(soci::into(r.phone_e164));
  st.exchange(soci::into(r.created_at));
  st.exchange(soci::into(r.external_id));
  st.exchange(soci::into(r.updated_at));
}

comms_entry to_entry(const matched_call& m, const std::string& created_at,
                     unix_micros now) {
  const auto& c = m.call;
  comms_entry e;
  e.customer_id = m.customer_id;
  e.type = "call";
  e.direction = to_string(c.direction);
  e.body = entry_body(c.incomplete, c.duration_seconds, c.notes);
  e.source = c.source;
  e.ext_message_id = c.ext_message_id;
  e.external_number = c.external_number;
  e.extension = c.extension;
  e.disposition = to_string(c.disposition);
  e.duration_seconds = c.duration_seconds;
  e.billsec = c.billsec;
  e.talk_seconds = c.talk_seconds;
  e.ucid = c.ucid;
  auto when
      = c.started_at != 0 ? c.started_at : (c.ended_at != 0 ? c.ended_at : now);
  e.occurred_at = iso8601_utc(when);
  e.created_at = created_at;
  e.origin = c.origin;
  e.incomplete = c.incomplete;
  e.crm_ref = c.crm_ref;
  e.recording = c.recording;
  e.updated_at = created_at;
  e.request_id = c.request_id;
  if (c.direction != call_direction::internal)
    e.external_e164 = m.external_e164;
  e.recovered = c.recovered;
  e.recording_url = c.recording_url;
  return e;
}

} // namespace sb::store::rows
