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
#include "adapters/store/migrations.hpp"
#include "adapters/store/rows.hpp"
#include "core/time.hpp"
#include "domain/comms_merge.hpp"

namespace sb::store {

using namespace rows;

// -- helpers ------------------------------------------------------------------

bool is_unavailable(const caf::error& err) {
  return err == caf::sec::runtime_error
         || code_of(err) == ec::database_unavailable;
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
