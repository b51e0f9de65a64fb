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

#include "adapters/store/database_impl.hpp"
#include "adapters/store/migrations.hpp"
#include "adapters/store/rows.hpp"
#include "core/db_url.hpp"
#include "core/error.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"
#include "domain/comms_merge.hpp"

namespace sb::store {

using namespace rows;

// -- helpers ------------------------------------------------------------------

bool is_unavailable(const caf::error& err) {
  // The spool's disk errors are ec::unavailable: storage that may work later.
  auto code = code_of(err);
  return code == ec::database_unavailable || code == ec::unavailable;
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
      return caf::make_error(ec::invalid,
                             "database URL sqlite:<path> has no path");
    // SOCI reads `key=value` pairs from its SQLite connect string; a bare
    // path is taken whole only when it has no '='.
    if (parts.target.find('=') != std::string::npos)
      return caf::make_error(ec::invalid,
                             "SQLite path must not contain '='");
    return parts;
  }
  if (starts_with(url, "postgresql://") || starts_with(url, "postgres://")) {
    parts.kind = backend::postgresql;
    parts.target = url;
    parts.password = url_password(url);
    return parts;
  }
  return caf::make_error(ec::invalid,
                         "unsupported database URL: expected sqlite:<path> or "
                         "postgresql://...");
}

} // namespace

// -- database
// -------------------------------------------------------------------


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
        auto i = returned.find(identity_key(calls[begin + k].call));
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
      if (calls[i].call.source == "ami" && !calls[i].call.recovered.empty()) {
        if (d.complete_from_cdr(to_entry(calls[i], created_at, now),
                                calls[i].call.supersedes)
            && outcomes != nullptr)
          (*outcomes)[i] = write_outcome::merged;
        continue;
      }
      if (calls[i].call.source != "ozonetel")
        continue;
      auto entry = to_entry(calls[i], created_at, now);
      // Ozonetel reports one call several times (callback, disposition):
      // complete the stored row. FOR UPDATE keeps two instances from
      // merging the same row at once on PostgreSQL; SQLite already holds
      // the write lock.
      auto where = std::string{"source = 'ozonetel' AND origin = :o"
                               " AND ext_message_id = :e"}
                   + (d.kind == backend::postgresql ? " FOR UPDATE" : "");
      auto existing = d.load_comms(where, entry.origin, entry.ext_message_id);
      if (!existing)
        continue;
      if (!merge_into(*existing, entry, calls[i].call.started_at != 0))
        continue;
      if (!entry.external_e164.empty())
        existing->external_e164 = entry.external_e164;
      // A merge is a change a syncing CRM must see again.
      existing->updated_at = created_at;
      comms_params p;
      p.assign(*existing);
      long long id = existing->id;
      d.sql << "UPDATE crm_comms_log SET customer_id = :customer_id,"
               " direction = :direction, body = :body,"
               " external_number = :external_number, extension = :extension,"
               " disposition = :disposition,"
               " duration_seconds = :duration_seconds, billsec = :billsec,"
               " talk_seconds = :talk_seconds, ucid = :ucid,"
               " occurred_at = :occurred_at, origin = :origin,"
               " incomplete = :incomplete, crm_ref = :crm_ref,"
               " recording = :recording, updated_at = :updated_at,"
               " external_e164 = :external_e164,"
               " recording_url = :recording_url WHERE id = :id",
          soci::use(p.customer_id, p.customer_ind), soci::use(p.direction),
          soci::use(p.body), soci::use(p.external_number),
          soci::use(p.extension), soci::use(p.disposition),
          soci::use(p.duration_seconds), soci::use(p.billsec),
          soci::use(p.talk_seconds), soci::use(p.ucid),
          soci::use(p.occurred_at), soci::use(p.origin),
          soci::use(p.incomplete), soci::use(p.crm_ref),
          soci::use(p.recording), soci::use(p.updated_at),
          soci::use(p.external_e164), soci::use(p.recording_url),
          soci::use(id);
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
  entry.origin = "manual";
  entry.incomplete = false;
  if (entry.type.empty())
    entry.type = "call";
  entry.created_at = iso8601_utc(now);
  if (entry.occurred_at.empty()) {
    entry.occurred_at = entry.created_at;
  } else {
    auto t = parse_iso8601(entry.occurred_at);
    if (!t)
      return caf::make_error(ec::rejected,
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
    // Read back: the answer carries what a read shows (customer_name).
    if (auto stored = d.load_comms("id = :id", id))
      entry = std::move(*stored);
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

} // namespace sb::store
