#include "adapters/store/database.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <type_traits>
#include <unordered_map>

#include <caf/sec.hpp>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "core/db_url.hpp"
#include "core/error.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"

namespace sb::store {

// -- helpers ------------------------------------------------------------------

bool is_unavailable(const caf::error& err) {
  return err == caf::sec::runtime_error
         || code_of(err) == ec::database_unavailable;
}

std::string call_body(int64_t duration_seconds, std::string_view notes) {
  std::string body = "Call duration: " + std::to_string(duration_seconds) + "s";
  if (!notes.empty()) {
    body += '\n';
    body.append(notes.data(), notes.size());
  }
  return body;
}

std::string body_notes(std::string_view body) {
  auto nl = body.find('\n');
  if (nl == std::string_view::npos)
    return {};
  return std::string{body.substr(nl + 1)};
}

namespace {

struct url_parts {
  backend kind = backend::sqlite;
  /// SQLite: the file path. PostgreSQL: the libpq connection URI.
  std::string target;
  /// PostgreSQL password, to scrub from messages.
  std::string password;
};

caf::expected<url_parts> parse_url(const std::string& url) {
  url_parts parts;
  if (starts_with(url, "sqlite:")) {
    parts.kind = backend::sqlite;
    parts.target = url.substr(7);
    if (starts_with(parts.target, "//"))
      parts.target = parts.target.substr(2);
    if (parts.target.empty())
      return caf::make_error(caf::sec::invalid_argument,
                             "database URL sqlite:<path> has no path");
    // SOCI reads `key=value` pairs from its SQLite connect string; a bare
    // path is taken whole only when it has no '='.
    if (parts.target.find('=') != std::string::npos)
      return caf::make_error(caf::sec::invalid_argument,
                             "SQLite path must not contain '='");
    return parts;
  }
  if (starts_with(url, "postgresql://") || starts_with(url, "postgres://")) {
    parts.kind = backend::postgresql;
    parts.target = url;
    parts.password = url_password(url);
    return parts;
  }
  return caf::make_error(caf::sec::invalid_argument,
                         "unsupported database URL: expected sqlite:<path> or "
                         "postgresql://...");
}

} // namespace

// -- schema -------------------------------------------------------------------

namespace {

struct migration {
  int version;
  const char* name;
  std::vector<const char*> statements;
};

// `{ID}` is the one spelling that differs between the backends: an
// auto-assigned 64-bit primary key.
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
  };
  return all;
}

int latest_version() {
  return migrations().back().version;
}

std::string dialect(std::string sql, backend kind) {
  return replace_all(
      std::move(sql), "{ID}",
      kind == backend::sqlite
          ? "INTEGER PRIMARY KEY"
          : "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
}

// Serializes concurrent migrations of several switchboard instances sharing
// one PostgreSQL database (SQLite serializes through BEGIN IMMEDIATE).
constexpr long long migration_lock_key = 0x5357424431; // "SWBD1"

constexpr const char* comms_columns
    = "id, customer_id, type, direction, body, source, ext_message_id,"
      " external_number, extension, disposition, duration_seconds, billsec,"
      " talk_seconds, ucid, occurred_at, created_at";

constexpr const char* insert_comms_sql
    = "INSERT INTO crm_comms_log (customer_id, type, direction, body, source,"
      " ext_message_id, external_number, extension, disposition,"
      " duration_seconds, billsec, talk_seconds, ucid, occurred_at, created_at)"
      " VALUES (:customer_id, :type, :direction, :body, :source,"
      " :ext_message_id, :external_number, :extension, :disposition,"
      " :duration_seconds, :billsec, :talk_seconds, :ucid, :occurred_at,"
      " :created_at)";

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
  }
};

// The per-row hot path of write_calls: assigning into the bound strings
// reuses their capacity, so a batch allocates (almost) only once.
void assign_call(comms_params& p, const matched_call& m,
                 const std::string& created_at, unix_micros now) {
  const auto& c = m.call;
  p.customer_ind = m.customer_id ? soci::i_ok : soci::i_null;
  p.customer_id = m.customer_id ? *m.customer_id : 0;
  p.type = "call";
  p.direction = to_string(c.direction);
  p.body = "Call duration: ";
  p.body += std::to_string(c.duration_seconds);
  p.body += 's';
  if (!c.notes.empty()) {
    p.body += '\n';
    p.body += c.notes;
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
}

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
}

// One INSERT of up to max_rows rows: a round trip per chunk instead of per
// row (PostgreSQL), and far less binding work per row (both). Prepared once
// per write_calls and executed for every full chunk.
struct multi_insert {
  static constexpr size_t max_rows = 100;
  static constexpr size_t columns = 15;

  /// Bound by reference: fill rows[0..n) then run().
  std::vector<comms_params> rows;
  std::vector<std::string> returned;
  soci::statement st;

  multi_insert(soci::session& sql, backend kind, size_t n)
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
          " created_at) VALUES ";
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
    q += " ON CONFLICT (source, ext_message_id) DO NOTHING"
         " RETURNING COALESCE(ext_message_id, '')";
    st.alloc();
    st.prepare(q);
    st.define_and_bind();
  }

  /// Executes and hands each inserted row's ext_message_id to `f`.
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
    e.occurred_at = occurred_at;
    e.created_at = created_at;
    return e;
  }
};

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
}

struct customer_row {
  long long id = 0;
  std::string name;
  std::string phone;
  std::string phone_e164;
  std::string created_at;

  customer value() const {
    return customer{id, name, phone, phone_e164, created_at};
  }
};

void bind_row(soci::statement& st, customer_row& r) {
  st.exchange(soci::into(r.id));
  st.exchange(soci::into(r.name));
  st.exchange(soci::into(r.phone));
  st.exchange(soci::into(r.phone_e164));
  st.exchange(soci::into(r.created_at));
}

comms_entry to_entry(const matched_call& m, const std::string& created_at,
                     unix_micros now) {
  const auto& c = m.call;
  comms_entry e;
  e.customer_id = m.customer_id;
  e.type = "call";
  e.direction = to_string(c.direction);
  e.body = call_body(c.duration_seconds, c.notes);
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
  return e;
}

int disposition_rank(const std::string& d) {
  // A person answering is the strongest fact any report can carry; a later
  // report never downgrades it.
  if (d == "answered")
    return 3;
  if (d == "busy" || d == "failed")
    return 2;
  if (d == "no_answer")
    return 1;
  return 0;
}

// Completes `old` with what `incoming` knows: non-empty text and non-zero
// numbers of the newer report win, empty / zero ones keep the stored value;
// a known start replaces the stored one; notes accumulate; `answered` is
// never downgraded. Returns true when anything changed.
bool merge_into(comms_entry& old, const comms_entry& incoming,
                bool incoming_knows_start) {
  comms_entry merged = old;
  auto take_text = [](std::string& dst, const std::string& src) {
    if (!src.empty())
      dst = src;
  };
  auto take_number = [](int64_t& dst, int64_t src) {
    if (src != 0)
      dst = src;
  };
  if (incoming.customer_id)
    merged.customer_id = incoming.customer_id;
  take_text(merged.direction, incoming.direction);
  take_text(merged.external_number, incoming.external_number);
  take_text(merged.extension, incoming.extension);
  take_text(merged.ucid, incoming.ucid);
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
  merged.body = call_body(merged.duration_seconds, notes);
  bool changed = merged.customer_id != old.customer_id
                 || merged.direction != old.direction
                 || merged.external_number != old.external_number
                 || merged.extension != old.extension || merged.ucid != old.ucid
                 || merged.disposition != old.disposition
                 || merged.duration_seconds != old.duration_seconds
                 || merged.billsec != old.billsec
                 || merged.talk_seconds != old.talk_seconds
                 || merged.occurred_at != old.occurred_at
                 || merged.body != old.body;
  old = std::move(merged);
  return changed;
}

} // namespace

// -- database
// -------------------------------------------------------------------

struct database::impl {
  backend kind = backend::sqlite;
  std::string password;
  soci::session sql;
  /// Prepared multi-row INSERTs, kept across write_calls; dropped after any
  /// failure and on reconnect, when the server may have forgotten them.
  /// One per chunk size in `insert_sizes`: a
  /// batch is cut into these sizes, so no batch ever prepares a statement
  /// (preparing a 38-row INSERT costs more than executing it).
  static constexpr std::array<size_t, 8> insert_sizes{
      multi_insert::max_rows, 64, 32, 16, 8, 4, 2, 1};
  std::array<std::unique_ptr<multi_insert>, insert_sizes.size()> inserts;

  // Must go before `sql` closes: statements need their session.
  ~impl() {
    forget_statements();
  }

  void forget_statements() noexcept {
    try {
      for (auto& statement : inserts)
        statement.reset();
    } catch (...) {
      // Finalizing on a dead connection; nothing left to free server-side.
    }
  }

  /// The cached statement for the largest chunk size that fits `remaining`.
  multi_insert& insert_statement(size_t remaining) {
    size_t i = 0;
    while (insert_sizes[i] > remaining)
      ++i;
    auto& cached = inserts[i];
    if (!cached)
      cached = std::make_unique<multi_insert>(sql, kind, insert_sizes[i]);
    return *cached;
  }

  std::string scrub(std::string message) const {
    if (!password.empty())
      message = replace_all(std::move(message), password, "***");
    // SOCI quotes whole statements in some messages; keep them short.
    if (message.size() > 500)
      message.resize(500);
    while (!message.empty()
           && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    return message;
  }

  // Turns the exception in flight into an error value.
  caf::error classify(const char* what) const {
    std::string prefix = std::string{what} + ": ";
    try {
      throw;
    } catch (const soci::sqlite3_soci_error& e) {
      // Primary result code (extended codes carry it in the low byte).
      switch (e.result() & 0xff) {
        case 18: // SQLITE_TOOBIG
        case 19: // SQLITE_CONSTRAINT
        case 20: // SQLITE_MISMATCH
        case 25: // SQLITE_RANGE
          return caf::make_error(caf::sec::invalid_argument,
                                 prefix + scrub(e.get_error_message()));
        default:
          return caf::make_error(caf::sec::runtime_error,
                                 prefix + scrub(e.get_error_message()));
      }
    } catch (const soci::postgresql_soci_error& e) {
      auto state = e.sqlstate();
      // Class 22 data exception, 23 integrity constraint violation: the data
      // is refused. Everything else (connection, shutdown, resources,
      // serialization) may work when tried again.
      if (starts_with(state, "22") || starts_with(state, "23"))
        return caf::make_error(caf::sec::invalid_argument,
                               prefix + scrub(e.get_error_message()));
      return caf::make_error(caf::sec::runtime_error,
                             prefix + scrub(e.get_error_message()));
    } catch (const soci::soci_error& e) {
      return caf::make_error(caf::sec::runtime_error,
                             prefix + scrub(e.get_error_message()));
    } catch (const std::exception& e) {
      return caf::make_error(caf::sec::runtime_error, prefix + scrub(e.what()));
    } catch (...) {
      return caf::make_error(caf::sec::runtime_error,
                             prefix + "unknown database failure");
    }
  }

  // PostgreSQL sessions die with their server; bring them back before use.
  void ensure_connected() {
    if (kind == backend::postgresql && !sql.is_connected()) {
      forget_statements();
      sql.reconnect();
      after_connect();
    }
  }

  void after_connect() {
    if (kind == backend::postgresql)
      // libpq prints NOTICEs (e.g. "relation exists, skipping") to stderr.
      sql << "SET client_min_messages TO WARNING";
  }

  // Runs `f` (which throws on failure) and converts failures into errors.
  // Reads (`retry_read`) are tried once more after a lost PostgreSQL
  // connection was re-established: they have no effect to duplicate.
  template <class F>
  auto run(const char* what, bool retry_read, F&& f)
      -> caf::expected<std::invoke_result_t<F&>> {
    for (int attempt = 0;; ++attempt) {
      try {
        ensure_connected();
        return f();
      } catch (...) {
        auto err = classify(what);
        forget_statements();
        if (retry_read && attempt == 0 && kind == backend::postgresql
            && is_unavailable(err) && !sql.is_connected())
          continue;
        return err;
      }
    }
  }

  // One write transaction. SQLite takes the write lock up front (BEGIN
  // IMMEDIATE) so that a transaction never fails half-way upgrading a read
  // lock.
  class write_tx {
  public:
    explicit write_tx(impl& d) : d_(d) {
      if (d_.kind == backend::sqlite)
        d_.sql << "BEGIN IMMEDIATE";
      else
        d_.sql.begin();
      active_ = true;
    }
    ~write_tx() {
      if (active_) {
        try {
          d_.sql.rollback();
        } catch (...) {
          // The connection is gone; the server discards the transaction.
        }
      }
    }
    void commit() {
      d_.sql.commit();
      active_ = false;
    }
    void rollback() {
      active_ = false;
      d_.sql.rollback();
    }

  private:
    impl& d_;
    bool active_ = false;
  };

  bool table_exists(const std::string& name) {
    long long n = 0;
    if (kind == backend::sqlite)
      sql << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
             "name = :name",
          soci::use(name), soci::into(n);
    else
      sql << "SELECT COUNT(*) FROM information_schema.tables WHERE "
             "table_schema = current_schema() AND table_name = :name",
          soci::use(name), soci::into(n);
    return n > 0;
  }

  int current_version() {
    if (!table_exists("schema_migrations"))
      return 0;
    int version = 0;
    soci::indicator ind = soci::i_null;
    sql << "SELECT MAX(version) FROM schema_migrations",
        soci::into(version, ind);
    return ind == soci::i_ok ? version : 0;
  }

  void migrate() {
    if (current_version() >= latest_version())
      return;
    write_tx tx{*this};
    if (kind == backend::postgresql)
      sql << "SELECT pg_advisory_xact_lock(" << migration_lock_key << ")";
    sql << "CREATE TABLE IF NOT EXISTS schema_migrations ("
           " version INTEGER PRIMARY KEY,"
           " name TEXT NOT NULL,"
           " applied_at TEXT NOT NULL)";
    // Another process may have migrated while we waited for the lock.
    int version = current_version();
    auto applied_at = iso8601_utc(now_micros());
    for (const auto& m : migrations()) {
      if (m.version <= version)
        continue;
      for (const char* statement : m.statements)
        sql << dialect(statement, kind);
      std::string name = m.name;
      int v = m.version;
      sql << "INSERT INTO schema_migrations (version, name, applied_at) "
             "VALUES (:v, :name, :at)",
          soci::use(v), soci::use(name), soci::use(applied_at);
    }
    tx.commit();
  }

  // Loads one comms entry by a WHERE clause with one string or integer key.
  template <class Key>
  caf::optional<comms_entry> load_comms(const std::string& where,
                                        const Key& key) {
    comms_row row;
    soci::statement st(sql);
    bind_row(st, row);
    st.exchange(soci::use(key));
    st.alloc();
    st.prepare(std::string{"SELECT "} + comms_columns
               + " FROM crm_comms_log WHERE " + where);
    st.define_and_bind();
    if (!st.execute(true))
      return caf::none;
    return row.entry();
  }

  std::vector<customer> load_customers(const std::string& where_and_order,
                                       const std::string* key) {
    std::vector<customer> out;
    customer_row row;
    soci::statement st(sql);
    bind_row(st, row);
    if (key != nullptr)
      st.exchange(soci::use(*key));
    st.alloc();
    st.prepare("SELECT id, name, phone, phone_e164, created_at FROM customers "
               + where_and_order);
    st.define_and_bind();
    if (st.execute(true)) {
      do {
        out.push_back(row.value());
      } while (st.fetch());
    }
    return out;
  }

  customer insert_customer(soci::statement& st, customer_row& row,
                           long long& id, customer c,
                           const std::string& created_at) {
    row.name = c.name;
    row.phone = c.phone;
    row.phone_e164 = c.phone_e164;
    row.created_at = created_at;
    st.execute(true);
    // Step past the RETURNING row: SQLite cannot commit while a statement
    // is still running.
    while (st.fetch()) {
    }
    c.id = id;
    c.created_at = created_at;
    return c;
  }

  void prepare_customer_insert(soci::statement& st, customer_row& row,
                               long long& id) {
    st.exchange(soci::use(row.name));
    st.exchange(soci::use(row.phone));
    st.exchange(soci::use(row.phone_e164));
    st.exchange(soci::use(row.created_at));
    st.exchange(soci::into(id));
    st.alloc();
    st.prepare("INSERT INTO customers (name, phone, phone_e164, created_at) "
               "VALUES (:name, :phone, :phone_e164, :created_at) RETURNING id");
    st.define_and_bind();
  }
};

database::database(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  // nop
}

database::~database() = default;

caf::expected<std::unique_ptr<database>>
database::open(const std::string& url) {
  return open(url, open_options{});
}

caf::expected<std::unique_ptr<database>>
database::open(const std::string& url, const open_options& options) {
  auto parts = parse_url(url);
  if (!parts)
    return std::move(parts.error());
  auto d = std::make_unique<impl>();
  d->kind = parts->kind;
  d->password = parts->password;
  try {
    if (d->kind == backend::sqlite) {
      d->sql.open(soci::sqlite3, parts->target);
      d->sql << "PRAGMA busy_timeout = " << options.busy_timeout.count();
      std::string mode;
      d->sql << "PRAGMA journal_mode = WAL", soci::into(mode);
      // Durable at every checkpoint, and no fsync per commit: with WAL a
      // power loss can lose the last commits but never corrupts the file.
      d->sql << "PRAGMA synchronous = NORMAL";
    } else {
      // SOCI re-joins its connect string as `key=value` pairs split at the
      // first '=': a URI survives that unchanged only if it contains an '='
      // (and no blanks), which the query parameter below guarantees.
      auto conninfo = parts->target;
      if (conninfo.find("connect_timeout") == std::string::npos)
        conninfo += (conninfo.find('?') == std::string::npos ? "?" : "&")
                    + std::string{"connect_timeout="}
                    + std::to_string(options.connect_timeout_seconds);
      d->sql.open(soci::postgresql, conninfo);
      d->after_connect();
    }
    d->migrate();
  } catch (...) {
    return d->classify("open database");
  }
  return std::unique_ptr<database>{new database(std::move(d))};
}

backend database::kind() const noexcept {
  return impl_->kind;
}

caf::expected<void> database::ping() {
  auto res = impl_->run("ping", true, [&] {
    int one = 0;
    impl_->sql << "SELECT 1", soci::into(one);
    return one;
  });
  if (!res)
    return std::move(res.error());
  return caf::unit;
}

caf::expected<int> database::schema_version() {
  return impl_->run("schema_version", true,
                    [&] { return impl_->current_version(); });
}

caf::expected<size_t>
database::write_calls(const std::vector<matched_call>& calls) {
  return write_calls(calls, nullptr);
}

caf::expected<size_t>
database::write_calls(const std::vector<matched_call>& calls,
                      std::vector<write_outcome>* outcomes) {
  if (outcomes != nullptr)
    outcomes->assign(calls.size(), write_outcome::duplicate);
  if (calls.empty())
    return size_t{0};
  auto& d = *impl_;
  return d.run("write_calls", false, [&]() -> size_t {
    impl::write_tx tx{d};
    auto now = now_micros();
    auto created_at = iso8601_utc(now);
    size_t inserted = 0;
    std::unordered_map<std::string, int> returned;
    std::vector<size_t> conflicts;
    size_t n = 0;
    for (size_t begin = 0; begin < calls.size(); begin += n) {
      auto* ins = &d.insert_statement(calls.size() - begin);
      n = ins->rows.size();
      for (size_t k = 0; k < n; ++k)
        assign_call(ins->rows[k], calls[begin + k], created_at, now);
      returned.clear();
      ins->run([&](const std::string& id) { ++returned[id]; });
      // RETURNING names the rows that went in; a row whose id is not there
      // (or was claimed by an earlier row of this chunk) met an existing one.
      for (size_t k = 0; k < n; ++k) {
        auto i = returned.find(calls[begin + k].call.ext_message_id);
        if (i != returned.end() && i->second > 0) {
          --i->second;
          ++inserted;
          if (outcomes != nullptr)
            (*outcomes)[begin + k] = write_outcome::inserted;
        } else {
          conflicts.push_back(begin + k);
        }
      }
    }
    for (auto i : conflicts) {
      if (calls[i].call.source != "ozonetel")
        continue;
      auto entry = to_entry(calls[i], created_at, now);
      // Ozonetel reports one call several times (callback, disposition):
      // complete the stored row. FOR UPDATE keeps two instances from
      // merging the same row at once on PostgreSQL; SQLite already holds
      // the write lock.
      auto where = std::string{"source = 'ozonetel' AND ext_message_id = :e"}
                   + (d.kind == backend::postgresql ? " FOR UPDATE" : "");
      auto existing = d.load_comms(where, entry.ext_message_id);
      if (!existing)
        continue;
      if (!merge_into(*existing, entry, calls[i].call.started_at != 0))
        continue;
      comms_params p;
      p.assign(*existing);
      long long id = existing->id;
      d.sql << "UPDATE crm_comms_log SET customer_id = :customer_id,"
               " direction = :direction, body = :body,"
               " external_number = :external_number, extension = :extension,"
               " disposition = :disposition,"
               " duration_seconds = :duration_seconds, billsec = :billsec,"
               " talk_seconds = :talk_seconds, ucid = :ucid,"
               " occurred_at = :occurred_at WHERE id = :id",
          soci::use(p.customer_id, p.customer_ind), soci::use(p.direction),
          soci::use(p.body), soci::use(p.external_number),
          soci::use(p.extension), soci::use(p.disposition),
          soci::use(p.duration_seconds), soci::use(p.billsec),
          soci::use(p.talk_seconds), soci::use(p.ucid),
          soci::use(p.occurred_at), soci::use(id);
      if (outcomes != nullptr)
        (*outcomes)[i] = write_outcome::merged;
    }
    tx.commit();
    return inserted;
  });
}

caf::expected<comms_entry>
database::insert_manual(comms_entry entry, const std::string& idempotency_key) {
  return insert_manual(std::move(entry), idempotency_key, nullptr);
}

caf::expected<comms_entry>
database::insert_manual(comms_entry entry, const std::string& idempotency_key,
                        bool* replayed) {
  if (replayed != nullptr)
    *replayed = false;
  auto now = now_micros();
  entry.source = "manual";
  if (entry.type.empty())
    entry.type = "call";
  entry.created_at = iso8601_utc(now);
  if (entry.occurred_at.empty()) {
    entry.occurred_at = entry.created_at;
  } else {
    auto t = parse_iso8601(entry.occurred_at);
    if (!t)
      return caf::make_error(caf::sec::invalid_argument,
                             "occurred_at is not an ISO-8601 time");
    entry.occurred_at = iso8601_utc(*t);
  }
  auto& d = *impl_;
  using result = std::pair<comms_entry, bool>;
  auto find_replay = [&]() -> caf::optional<comms_entry> {
    long long comms_id = 0;
    soci::indicator ind = soci::i_null;
    d.sql << "SELECT comms_id FROM manual_idempotency WHERE key = :key",
        soci::use(idempotency_key), soci::into(comms_id, ind);
    if (ind != soci::i_ok)
      return caf::none;
    return d.load_comms("id = :id", comms_id);
  };
  auto res = d.run("insert_manual", false, [&]() -> result {
    impl::write_tx tx{d};
    if (!idempotency_key.empty()) {
      if (auto first = find_replay()) {
        tx.commit();
        return {std::move(*first), true};
      }
    }
    comms_params params;
    params.assign(entry);
    long long id = 0;
    {
      soci::statement st(d.sql);
      bind_params(st, params);
      st.exchange(soci::into(id));
      st.alloc();
      st.prepare(std::string{insert_comms_sql} + " RETURNING id");
      st.define_and_bind();
      st.execute(true);
      while (st.fetch()) {
      }
    }
    entry.id = id;
    if (!idempotency_key.empty()) {
      // Two instances on one PostgreSQL may race on the same key: the second
      // waits for the first to commit and then inserts nothing.
      soci::statement claim
          = (d.sql.prepare << "INSERT INTO manual_idempotency (key, comms_id,"
                              " created_at) VALUES (:key, :id, :at)"
                              " ON CONFLICT (key) DO NOTHING",
             soci::use(idempotency_key), soci::use(id),
             soci::use(entry.created_at));
      claim.execute(true);
      if (claim.get_affected_rows() == 0) {
        tx.rollback();
        if (auto first = find_replay())
          return {std::move(*first), true};
        throw soci::soci_error("idempotency key claimed but not found");
      }
    }
    tx.commit();
    return {entry, false};
  });
  if (!res)
    return std::move(res.error());
  if (replayed != nullptr)
    *replayed = res->second;
  return std::move(res->first);
}

caf::expected<std::vector<comms_entry>>
database::query_comms(const comms_query& q) {
  // Owned copies of every bound value; deque keeps their addresses stable.
  std::deque<std::string> texts;
  std::deque<long long> numbers;
  std::vector<std::function<void(soci::statement&)>> binders;
  std::string where;
  int n = 0;
  auto placeholder = [&] { return ":p" + std::to_string(n++); };
  auto add_text = [&](const std::string& column_op, std::string value) {
    texts.push_back(std::move(value));
    auto* ref = &texts.back();
    where += (where.empty() ? " WHERE " : " AND ") + column_op + " "
             + placeholder();
    binders.emplace_back(
        [ref](soci::statement& st) { st.exchange(soci::use(*ref)); });
  };
  auto normalized_time = [](const std::string& text,
                            const char* field) -> caf::expected<std::string> {
    auto t = parse_iso8601(text);
    if (!t)
      return caf::make_error(caf::sec::invalid_argument,
                             std::string{field} + " is not an ISO-8601 time");
    return iso8601_utc(*t);
  };
  if (!q.type.empty())
    add_text("type =", q.type);
  if (q.customer_id) {
    numbers.push_back(*q.customer_id);
    auto* ref = &numbers.back();
    where += (where.empty() ? " WHERE " : " AND ")
             + std::string{"customer_id = "} + placeholder();
    binders.emplace_back(
        [ref](soci::statement& st) { st.exchange(soci::use(*ref)); });
  }
  if (!q.direction.empty())
    add_text("direction =", q.direction);
  if (!q.source.empty())
    add_text("source =", q.source);
  if (!q.since.empty()) {
    auto t = normalized_time(q.since, "since");
    if (!t)
      return std::move(t.error());
    add_text("occurred_at >=", *t);
  }
  if (!q.until.empty()) {
    auto t = normalized_time(q.until, "until");
    if (!t)
      return std::move(t.error());
    add_text("occurred_at <", *t);
  }
  if (!q.cursor_occurred_at.empty()) {
    auto t = normalized_time(q.cursor_occurred_at, "cursor");
    if (!t)
      return std::move(t.error());
    texts.push_back(*t);
    auto* before = &texts.back();
    texts.push_back(*t);
    auto* same = &texts.back();
    numbers.push_back(q.cursor_id);
    auto* id = &numbers.back();
    auto p1 = placeholder();
    auto p2 = placeholder();
    auto p3 = placeholder();
    where += (where.empty() ? " WHERE " : " AND ")
             + std::string{"(occurred_at < "} + p1 + " OR (occurred_at = " + p2
             + " AND id < " + p3 + "))";
    binders.emplace_back([before, same, id](soci::statement& st) {
      st.exchange(soci::use(*before));
      st.exchange(soci::use(*same));
      st.exchange(soci::use(*id));
    });
  }
  auto limit = std::clamp<int64_t>(q.limit, 1, 500);
  auto query = std::string{"SELECT "} + comms_columns + " FROM crm_comms_log"
               + where + " ORDER BY occurred_at DESC, id DESC LIMIT "
               + std::to_string(limit);
  auto& d = *impl_;
  return d.run("query_comms", true, [&] {
    std::vector<comms_entry> out;
    comms_row row;
    soci::statement st(d.sql);
    bind_row(st, row);
    for (auto& bind : binders)
      bind(st);
    st.alloc();
    st.prepare(query);
    st.define_and_bind();
    if (st.execute(true)) {
      do {
        out.push_back(row.entry());
      } while (st.fetch());
    }
    return out;
  });
}

caf::expected<caf::optional<comms_entry>>
database::find_comms(const std::string& source,
                     const std::string& ext_message_id) {
  auto& d = *impl_;
  return d.run("find_comms", true, [&] {
    comms_row row;
    soci::statement st(d.sql);
    bind_row(st, row);
    st.exchange(soci::use(source));
    st.exchange(soci::use(ext_message_id));
    st.alloc();
    st.prepare(std::string{"SELECT "} + comms_columns
               + " FROM crm_comms_log WHERE source = :s AND"
                 " ext_message_id = :e");
    st.define_and_bind();
    caf::optional<comms_entry> out;
    if (st.execute(true))
      out = row.entry();
    return out;
  });
}

caf::expected<int64_t> database::count_comms() {
  auto& d = *impl_;
  return d.run("count_comms", true, [&] {
    long long n = 0;
    d.sql << "SELECT COUNT(*) FROM crm_comms_log", soci::into(n);
    return static_cast<int64_t>(n);
  });
}

caf::expected<customer> database::add_customer(customer c) {
  auto& d = *impl_;
  return d.run("add_customer", false, [&] {
    customer_row row;
    long long id = 0;
    soci::statement st(d.sql);
    d.prepare_customer_insert(st, row, id);
    return d.insert_customer(st, row, id, c, iso8601_utc(now_micros()));
  });
}

caf::expected<std::vector<customer>>
database::add_customers(std::vector<customer> cs) {
  auto& d = *impl_;
  return d.run("add_customers", false, [&] {
    std::vector<customer> out;
    out.reserve(cs.size());
    impl::write_tx tx{d};
    customer_row row;
    long long id = 0;
    soci::statement st(d.sql);
    d.prepare_customer_insert(st, row, id);
    auto created_at = iso8601_utc(now_micros());
    for (auto& c : cs)
      out.push_back(d.insert_customer(st, row, id, c, created_at));
    tx.commit();
    return out;
  });
}

caf::expected<caf::optional<customer>> database::get_customer(int64_t id) {
  auto& d = *impl_;
  return d.run("get_customer", true, [&] {
    caf::optional<customer> out;
    customer_row row;
    long long key = id;
    soci::statement st(d.sql);
    bind_row(st, row);
    st.exchange(soci::use(key));
    st.alloc();
    st.prepare("SELECT id, name, phone, phone_e164, created_at FROM customers "
               "WHERE id = :id");
    st.define_and_bind();
    if (st.execute(true))
      out = row.value();
    return out;
  });
}

caf::expected<std::vector<customer>>
database::find_customers_by_e164(const std::string& e164) {
  auto& d = *impl_;
  return d.run("find_customers_by_e164", true, [&] {
    if (e164.empty())
      return std::vector<customer>{};
    return d.load_customers("WHERE phone_e164 = :e164 ORDER BY id", &e164);
  });
}

caf::expected<std::vector<customer>> database::all_customers() {
  auto& d = *impl_;
  return d.run("all_customers", true, [&] {
    return d.load_customers("WHERE phone_e164 <> '' ORDER BY id", nullptr);
  });
}

} // namespace sb::store
