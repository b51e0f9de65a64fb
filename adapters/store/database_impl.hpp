#pragma once

// The private half of store::database: the SOCI session and what it keeps
// between calls (prepared statements), outage classification, migrations
// and the row loaders. Included only by the store's own .cpp files.

#include <array>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/sec.hpp>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "adapters/store/database.hpp"
#include "adapters/store/migrations.hpp"
#include "adapters/store/rows.hpp"
#include "core/error.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"

namespace sb::store {

using namespace rows;

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
          return caf::make_error(ec::rejected,
                                 prefix + scrub(e.get_error_message()));
        default:
          return caf::make_error(ec::database_unavailable,
                                 prefix + scrub(e.get_error_message()));
      }
    } catch (const soci::postgresql_soci_error& e) {
      auto state = e.sqlstate();
      // Class 22 data exception, 23 integrity constraint violation: the data
      // is refused. Everything else (connection, shutdown, resources,
      // serialization) may work when tried again.
      if (starts_with(state, "22") || starts_with(state, "23"))
        return caf::make_error(ec::rejected,
                               prefix + scrub(e.get_error_message()));
      return caf::make_error(ec::database_unavailable,
                             prefix + scrub(e.get_error_message()));
    } catch (const soci::soci_error& e) {
      return caf::make_error(ec::database_unavailable,
                             prefix + scrub(e.get_error_message()));
    } catch (const std::exception& e) {
      return caf::make_error(ec::database_unavailable, prefix + scrub(e.what()));
    } catch (...) {
      return caf::make_error(ec::database_unavailable,
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
    if (kind == backend::postgresql) {
      // libpq prints NOTICEs (e.g. "relation exists, skipping") to stderr.
      sql << "SET client_min_messages TO WARNING";
      // timestamptz is rendered in the session's zone: UTC reads back as
      // canonical_time() expects, whatever the server's default.
      sql << "SET TIME ZONE 'UTC'";
    }
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

  bool column_exists(const std::string& table, const std::string& column) {
    long long n = 0;
    if (kind == backend::sqlite)
      sql << "SELECT COUNT(*) FROM pragma_table_info(:t) WHERE name = :c",
          soci::use(table), soci::use(column), soci::into(n);
    else
      sql << "SELECT COUNT(*) FROM information_schema.columns WHERE"
             " table_schema = current_schema() AND table_name = :t AND"
             " column_name = :c",
          soci::use(table), soci::use(column), soci::into(n);
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
      // Guarded columns before the backend's own statements: a table
      // rebuild copies them.
      for (const auto& add : m.add_if_missing)
        if (!column_exists(add.table, add.column))
          sql << std::string{"ALTER TABLE "} + add.table + " ADD COLUMN "
                     + add.column + " " + add.definition;
      for (const char* statement :
           kind == backend::sqlite ? m.sqlite_only : m.postgresql_only)
        sql << statement;
      std::string name = m.name;
      int v = m.version;
      sql << "INSERT INTO schema_migrations (version, name, applied_at) "
             "VALUES (:v, :name, :at)",
          soci::use(v), soci::use(name), soci::use(applied_at);
    }
    tx.commit();
  }

  // Loads one comms entry by a WHERE clause with string or integer keys.
  template <class... Keys>
  caf::optional<comms_entry> load_comms(const std::string& where,
                                        const Keys&... keys) {
    comms_row row;
    soci::statement st(sql);
    bind_row(st, row);
    (st.exchange(soci::use(keys)), ...);
    st.alloc();
    st.prepare(std::string{"SELECT "} + comms_columns
               + " FROM crm_comms_log WHERE " + where);
    st.define_and_bind();
    if (!st.execute(true))
      return caf::none;
    return row.entry();
  }

  // A call the re-sync finalized incomplete (its end happened in a gap),
  // or (`supersedes`) one whose stream had a gap, that the CDR knows whole:
  // the CDR's figures replace the guesses. Any other stored entry is left
  // alone. True when a row changed.
  bool complete_from_cdr(const comms_entry& e, bool supersedes) {
    std::string where = "source = 'ami' AND origin = :o AND"
                        " ext_message_id = :e";
    if (!supersedes)
      where += " AND incomplete = 1";
    if (kind == backend::postgresql)
      where += " FOR UPDATE";
    auto existing = load_comms(where, e.origin, e.ext_message_id);
    if (!existing)
      return false;
    comms_params p;
    p.assign(e);
    if (p.customer_ind != soci::i_ok && existing->customer_id) {
      p.customer_ind = soci::i_ok;
      p.customer_id = *existing->customer_id;
    }
    long long id = existing->id;
    sql << "UPDATE crm_comms_log SET customer_id = :customer_id,"
           " direction = :direction, body = :body,"
           " external_number = :external_number, extension = :extension,"
           " disposition = :disposition,"
           " duration_seconds = :duration_seconds, billsec = :billsec,"
           " talk_seconds = :talk_seconds, occurred_at = :occurred_at,"
           " incomplete = 0, recovered = :recovered, recording = :recording,"
           " recording_url = :recording_url, updated_at = :updated_at,"
           " external_e164 = :external_e164 WHERE id = :id",
        soci::use(p.customer_id, p.customer_ind), soci::use(p.direction),
        soci::use(p.body), soci::use(p.external_number), soci::use(p.extension),
        soci::use(p.disposition), soci::use(p.duration_seconds),
        soci::use(p.billsec), soci::use(p.talk_seconds),
        soci::use(p.occurred_at), soci::use(p.recovered),
        soci::use(p.recording), soci::use(p.recording_url),
        soci::use(p.updated_at), soci::use(p.external_e164), soci::use(id);
    return true;
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
    st.prepare(std::string{"SELECT "} + customer_columns + " FROM customers "
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
    row.external_id = c.external_id;
    row.updated_at = created_at;
    st.execute(true);
    // Step past the RETURNING row: SQLite cannot commit while a statement
    // is still running.
    while (st.fetch()) {
    }
    c.id = id;
    c.created_at = created_at;
    c.updated_at = created_at;
    return c;
  }

  void prepare_customer_insert(soci::statement& st, customer_row& row,
                               long long& id) {
    st.exchange(soci::use(row.name));
    st.exchange(soci::use(row.phone));
    st.exchange(soci::use(row.phone_e164));
    st.exchange(soci::use(row.created_at));
    st.exchange(soci::use(row.external_id));
    st.exchange(soci::use(row.updated_at));
    st.exchange(soci::into(id));
    st.alloc();
    st.prepare("INSERT INTO customers (name, phone, phone_e164, created_at,"
               " external_id, updated_at) VALUES (:name, :phone, :phone_e164,"
               " :created_at, :external_id, :updated_at) RETURNING id");
    st.define_and_bind();
  }
};

} // namespace sb::store
