#include "adapters/store/migrations.hpp"

#include <utility>

#include "core/strings.hpp"

// The comms log's columns up to version 8, copied by name when SQLite
// rebuilds the table.
#define COMMS_V8_COLUMNS                                                     \
  "id, customer_id, type, direction, body, source, ext_message_id,"          \
  " external_number, extension, disposition, duration_seconds, billsec,"     \
  " talk_seconds, ucid, occurred_at, created_at, incomplete, origin,"        \
  " updated_at, external_e164, crm_ref, recording, recovered, recording_url"

namespace sb::store {

namespace {

// A call's identity includes its PBX: two PBXes count Linkedids from
// their own start, so one Linkedid may name two different calls. Rows
// keep their ids and contents; recovered says a row was rebuilt from
// the PBX's CDR database (its events were never seen), recording is
// the PBX's recording file and recording_url where to fetch it.
// Written to run again harmlessly over a table that has some of it
// already (`recording` comes with 6; early builds of this change
// numbered it 3).
migration identity_with_origin() {
  return {
      8,
      "origin in the identity; recovered and recording of entries",
      {},
      {
          // SQLite cannot drop a table's UNIQUE constraint: rebuild the
          // table with the new one and copy every row, ids included, by
          // column name. Every column of the versions before is here.
          "CREATE TABLE crm_comms_log_v8 ("
          " id INTEGER PRIMARY KEY,"
          " customer_id BIGINT NULL,"
          " type TEXT NOT NULL DEFAULT 'call',"
          " direction TEXT NOT NULL CHECK (direction = 'inbound'"
          "   OR direction = 'outbound' OR direction = 'internal'),"
          " body TEXT NOT NULL DEFAULT '',"
          " source TEXT NOT NULL CHECK (source = 'ami' OR source = 'ozonetel'"
          "   OR source = 'manual'),"
          " ext_message_id TEXT NULL,"
          " external_number TEXT NOT NULL DEFAULT '',"
          " extension TEXT NOT NULL DEFAULT '',"
          " disposition TEXT NOT NULL DEFAULT '' CHECK (disposition = ''"
          "   OR disposition = 'answered' OR disposition = 'no_answer'"
          "   OR disposition = 'busy' OR disposition = 'failed'),"
          " duration_seconds BIGINT NOT NULL DEFAULT 0,"
          " billsec BIGINT NOT NULL DEFAULT 0,"
          " talk_seconds BIGINT NOT NULL DEFAULT 0,"
          " ucid TEXT NOT NULL DEFAULT '',"
          " occurred_at TEXT NOT NULL,"
          " created_at TEXT NOT NULL,"
          " incomplete INTEGER NOT NULL DEFAULT 0"
          "   CHECK (incomplete = 0 OR incomplete = 1),"
          " origin TEXT NOT NULL DEFAULT '',"
          " updated_at TEXT NOT NULL DEFAULT '',"
          " external_e164 TEXT NOT NULL DEFAULT '',"
          " crm_ref TEXT NOT NULL DEFAULT '',"
          " recording TEXT NOT NULL DEFAULT '',"
          " recovered TEXT NOT NULL DEFAULT ''"
          "   CHECK (recovered = '' OR recovered = 'cdr'),"
          " recording_url TEXT NOT NULL DEFAULT '',"
          " UNIQUE (source, origin, ext_message_id))",
          "INSERT INTO crm_comms_log_v8 (" COMMS_V8_COLUMNS ")"
          " SELECT " COMMS_V8_COLUMNS " FROM crm_comms_log",
          "DROP TABLE crm_comms_log",
          "ALTER TABLE crm_comms_log_v8 RENAME TO crm_comms_log",
          "CREATE INDEX crm_comms_log_occurred"
          " ON crm_comms_log (occurred_at DESC, id DESC)",
          "CREATE INDEX crm_comms_log_customer"
          " ON crm_comms_log (customer_id, occurred_at DESC, id DESC)",
          "CREATE INDEX crm_comms_log_updated"
          " ON crm_comms_log (updated_at, id)",
          "CREATE INDEX crm_comms_log_external"
          " ON crm_comms_log (external_e164, occurred_at, id)",
      },
      {
          // crm_comms_log_source_ext_message_id_key is the name PostgreSQL
          // gave the UNIQUE (source, ext_message_id) of version 1.
          "ALTER TABLE crm_comms_log"
          " DROP CONSTRAINT IF EXISTS crm_comms_log_source_ext_message_id_key,"
          " DROP CONSTRAINT IF EXISTS crm_comms_log_identity",
          "ALTER TABLE crm_comms_log ADD CONSTRAINT crm_comms_log_identity"
          " UNIQUE (source, origin, ext_message_id)",
      },
      {{"crm_comms_log", "recording", "TEXT NOT NULL DEFAULT ''"},
       {"crm_comms_log", "recovered",
        "TEXT NOT NULL DEFAULT '' CHECK (recovered = '' OR recovered = 'cdr')"},
       {"crm_comms_log", "recording_url", "TEXT NOT NULL DEFAULT ''"}}};
}

} // namespace

// `{ID}` (an auto-assigned 64-bit primary key) and `{TIME}` (a point in
// time: ISO-8601 text on SQLite, timestamptz on PostgreSQL) are the
// spellings that differ between the backends.

// The events table but its key (which differs between the backends).
#define EVENTS_COLUMNS                                                         \
  " type TEXT NOT NULL,"                                                       \
  " at TEXT NOT NULL,"                                                         \
  " origin TEXT NOT NULL DEFAULT '',"                                          \
  " call_id TEXT NOT NULL DEFAULT '',"                                         \
  " extension TEXT NOT NULL DEFAULT '',"                                       \
  " agent_id TEXT NOT NULL DEFAULT '',"                                        \
  " customer_id BIGINT NULL,"                                                  \
  " payload TEXT NOT NULL DEFAULT '{}'"
const std::vector<migration>& migrations() {
  static const std::vector<migration> all = {
      {1,
       "customers and comms log",
       {
           "CREATE TABLE customers ("
           " id {ID},"
           " name TEXT NOT NULL DEFAULT '',"
           " phone TEXT NOT NULL DEFAULT '',"
           " phone_e164 TEXT NOT NULL DEFAULT '',"
           " created_at TEXT NOT NULL)",
           "CREATE INDEX customers_phone_e164 ON customers (phone_e164)",
           "CREATE TABLE crm_comms_log ("
           " id {ID},"
           " customer_id BIGINT NULL,"
           " type TEXT NOT NULL DEFAULT 'call',"
           // The CHECKs are OR chains, not IN lists: SQLite builds an ephemeral
           // index for every IN list on every insert, which halves write speed.
           " direction TEXT NOT NULL CHECK (direction = 'inbound'"
           "   OR direction = 'outbound' OR direction = 'internal'),"
           " body TEXT NOT NULL DEFAULT '',"
           " source TEXT NOT NULL CHECK (source = 'ami' OR source = 'ozonetel'"
           "   OR source = 'manual'),"
           // NULL for manual entries: several NULLs never collide in UNIQUE.
           " ext_message_id TEXT NULL,"
           " external_number TEXT NOT NULL DEFAULT '',"
           " extension TEXT NOT NULL DEFAULT '',"
           " disposition TEXT NOT NULL DEFAULT '' CHECK (disposition = ''"
           "   OR disposition = 'answered' OR disposition = 'no_answer'"
           "   OR disposition = 'busy' OR disposition = 'failed'),"
           " duration_seconds BIGINT NOT NULL DEFAULT 0,"
           " billsec BIGINT NOT NULL DEFAULT 0,"
           " talk_seconds BIGINT NOT NULL DEFAULT 0,"
           " ucid TEXT NOT NULL DEFAULT '',"
           // UTC ISO-8601 with a Z, fixed width: text order is time order.
           " occurred_at TEXT NOT NULL,"
           " created_at TEXT NOT NULL,"
           " UNIQUE (source, ext_message_id))",
           "CREATE INDEX crm_comms_log_occurred"
           " ON crm_comms_log (occurred_at DESC, id DESC)",
           "CREATE INDEX crm_comms_log_customer"
           " ON crm_comms_log (customer_id, occurred_at DESC, id DESC)",
           "CREATE TABLE manual_idempotency ("
           " key TEXT PRIMARY KEY,"
           " comms_id BIGINT NOT NULL,"
           " created_at TEXT NOT NULL)",
       }},
      // A call not seen from start to end is flagged, not passed off as an
      // ordinary row; the PBX (or CloudAgent account) a row came from is kept.
      // ADD COLUMN with a constant default keeps every existing row (and is
      // instant on both backends); rows written before keep origin '' (their
      // PBX was never recorded) and incomplete 0, except manual ones, whose
      // origin is known.
      {2,
       "incomplete and origin of comms-log entries",
       {
           "ALTER TABLE crm_comms_log ADD COLUMN incomplete INTEGER NOT NULL"
           " DEFAULT 0 CHECK (incomplete = 0 OR incomplete = 1)",
           "ALTER TABLE crm_comms_log ADD COLUMN origin TEXT NOT NULL"
           " DEFAULT ''",
           "UPDATE crm_comms_log SET origin = 'manual' WHERE source = 'manual'",
       }},
      // A CRM that keeps its own tables syncs by updated_at; customers carry
      // the CRM's own id; re-matching and the external_number filter need
      // the outside number normalized (rows written before keep it only
      // when it was already E.164). PostgreSQL keeps times as timestamptz
      // (SQLite as fixed-width ISO-8601 text, whose order is time order).
      {5,
       "updated_at, external_e164, customers.external_id, timestamptz",
       {
           "ALTER TABLE crm_comms_log ADD COLUMN updated_at TEXT NOT NULL"
           " DEFAULT ''",
           "UPDATE crm_comms_log SET updated_at = created_at",
           "ALTER TABLE crm_comms_log ADD COLUMN external_e164 TEXT NOT NULL"
           " DEFAULT ''",
           "UPDATE crm_comms_log SET external_e164 = external_number"
           " WHERE external_number LIKE '+%' AND direction <> 'internal'",
           "CREATE INDEX crm_comms_log_updated"
           " ON crm_comms_log (updated_at, id)",
           "CREATE INDEX crm_comms_log_external"
           " ON crm_comms_log (external_e164, occurred_at, id)",
           "ALTER TABLE customers ADD COLUMN external_id TEXT NOT NULL"
           " DEFAULT ''",
           "ALTER TABLE customers ADD COLUMN updated_at TEXT NOT NULL"
           " DEFAULT ''",
           "UPDATE customers SET updated_at = created_at",
           "CREATE UNIQUE INDEX customers_external_id ON customers"
           " (external_id) WHERE external_id <> ''",
           "CREATE TABLE customer_idempotency ("
           " key TEXT PRIMARY KEY,"
           " customer_id BIGINT NOT NULL,"
           // What the first request asked for, so a reused key is told apart
           // from a retry.
           " request TEXT NOT NULL,"
           " created_at {TIME} NOT NULL)",
       },
       {},
       {
           // '' cannot be cast: the default goes before the type changes.
           "ALTER TABLE crm_comms_log ALTER COLUMN updated_at DROP DEFAULT",
           "ALTER TABLE customers ALTER COLUMN updated_at DROP DEFAULT",
           "ALTER TABLE crm_comms_log"
           " ALTER COLUMN occurred_at TYPE timestamptz"
           "   USING occurred_at::timestamptz,"
           " ALTER COLUMN created_at TYPE timestamptz"
           "   USING created_at::timestamptz,"
           " ALTER COLUMN updated_at TYPE timestamptz"
           "   USING updated_at::timestamptz",
           "ALTER TABLE customers"
           " ALTER COLUMN created_at TYPE timestamptz"
           "   USING created_at::timestamptz,"
           " ALTER COLUMN updated_at TYPE timestamptz"
           "   USING updated_at::timestamptz",
           "ALTER TABLE manual_idempotency"
           " ALTER COLUMN created_at TYPE timestamptz"
           "   USING created_at::timestamptz",
       }},
      // CloudAgent agents beyond the configured ones, their tokens (a
      // SHA-256 hash only: the token itself is shown once), and every UCID's
      // state with its pending disposition and retry, so that a restart (or
      // kill -9) during after-call work loses nothing. `crm_ref` is the CRM's
      // own reference of an entry (the seed's leadId).
      {6,
       "CloudAgent agents, durable UCID state, crm_ref",
       {
           "CREATE TABLE ozonetel_agents ("
           " id TEXT PRIMARY KEY,"
           " name TEXT NOT NULL DEFAULT '',"
           " extension TEXT NOT NULL DEFAULT '',"
           " password TEXT NOT NULL DEFAULT '',"
           // 'api' rows were created over HTTP; 'config' rows only hold the
           // token of an agent from an [ozonetel.agent.<id>] section.
           " source TEXT NOT NULL DEFAULT 'api',"
           " token_hash TEXT NOT NULL DEFAULT '',"
           " created_at TEXT NOT NULL,"
           " updated_at TEXT NOT NULL)",
           "CREATE TABLE ozonetel_ucid_state ("
           " ucid TEXT PRIMARY KEY,"
           " agent_id TEXT NOT NULL DEFAULT '',"
           " phase TEXT NOT NULL,"
           // The whole call as JSON (domain fields, pending disposition,
           // attempts, deadlines); phase and agent_id are its indexable part.
           " state TEXT NOT NULL,"
           " updated_at TEXT NOT NULL)",
           "CREATE INDEX ozonetel_ucid_state_phase"
           " ON ozonetel_ucid_state (phase)",
           "ALTER TABLE crm_comms_log ADD COLUMN crm_ref TEXT NOT NULL"
           " DEFAULT ''",
       },
       {},
       {},
       // `recording` is migration 8's (cdr) too: whichever runs first adds it.
       {{"crm_comms_log", "recording", "TEXT NOT NULL DEFAULT ''"}}},
      // The durable event log (GET /api/events, webhooks) and each webhook
      // endpoint's delivery progress. Event ids are never reused, even after
      // pruning emptied the table (SQLite: AUTOINCREMENT), because a
      // subscriber resumes by id.
      {7,
       "event log and webhook delivery",
       {
           "CREATE TABLE webhook_progress ("
           " endpoint TEXT PRIMARY KEY,"
           " last_event_id BIGINT NOT NULL DEFAULT 0,"
           " attempts INTEGER NOT NULL DEFAULT 0,"
           " next_attempt_at TEXT NOT NULL DEFAULT '',"
           " last_error TEXT NOT NULL DEFAULT '',"
           " updated_at TEXT NOT NULL DEFAULT '')",
           "CREATE TABLE webhook_dead_letters ("
           " id {ID},"
           " endpoint TEXT NOT NULL,"
           " event_id BIGINT NOT NULL,"
           " event_type TEXT NOT NULL,"
           " status INTEGER NOT NULL,"
           " error TEXT NOT NULL DEFAULT '',"
           " failed_at TEXT NOT NULL)",
       },
       {"CREATE TABLE events ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT," EVENTS_COLUMNS ")",
        "CREATE INDEX events_at ON events (at)"},
       {"CREATE TABLE events ("
        " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        EVENTS_COLUMNS ")",
        "CREATE INDEX events_at ON events (at)"}},
      identity_with_origin(),
      // Click-to-call: the id POST /api/calls/originate answered with, on
      // the entry of the call it placed ('' for every other entry).
      {9,
       "originate request id",
       {"ALTER TABLE crm_comms_log ADD COLUMN request_id TEXT NOT NULL"
        " DEFAULT ''"}},
  };
  return all;
}

int latest_version() {
  return migrations().back().version;
}

std::string dialect(std::string sql, backend kind) {
  sql = replace_all(std::move(sql), "{TIME}",
                    kind == backend::sqlite ? "TEXT" : "TIMESTAMPTZ");
  return replace_all(
      std::move(sql), "{ID}",
      kind == backend::sqlite
          ? "INTEGER PRIMARY KEY"
          : "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
}

} // namespace sb::store
