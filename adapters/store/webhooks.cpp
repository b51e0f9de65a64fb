// store::database: webhook delivery progress and dead letters.

#include <string>
#include <vector>

#include "adapters/json/row_json.hpp"
#include "adapters/store/database_impl.hpp"

namespace sb::store {

namespace {

struct progress_row {
  long long last_event_id = 0;
  long long attempts = 0;
  std::string next_attempt_at;
  std::string last_error;

  webhook_progress value() const {
    webhook_progress p;
    p.last_event_id = last_event_id;
    p.attempts = attempts;
    p.next_attempt_at = next_attempt_at;
    p.last_error = last_error;
    return p;
  }
};

std::string now_text() {
  return json::iso8601_millis(now_micros());
}

/// A new endpoint's row, starting after the newest event: adding a webhook
/// does not replay the retained history at it.
void ensure_row(database::impl& d, const std::string& endpoint) {
  std::string now = now_text();
  std::string name = endpoint;
  // `WHERE true`: SQLite would read ON CONFLICT as a join's ON otherwise.
  d.sql << "INSERT INTO webhook_progress (endpoint, last_event_id, updated_at)"
           " SELECT CAST(:endpoint AS TEXT), COALESCE(MAX(id), 0),"
           " CAST(:now AS TEXT) FROM events WHERE true"
           " ON CONFLICT (endpoint) DO NOTHING",
      soci::use(name), soci::use(now);
}

/// The row, locked for this transaction when `lock` (PostgreSQL); false
/// when another session holds it.
bool select_row(database::impl& d, const std::string& endpoint, bool lock,
                progress_row& row) {
  std::string name = endpoint;
  soci::indicator ind = soci::i_null;
  std::string sql = "SELECT last_event_id, attempts, next_attempt_at,"
                    " last_error FROM webhook_progress WHERE endpoint ="
                    " :endpoint";
  if (lock)
    sql += " FOR UPDATE SKIP LOCKED";
  d.sql << sql, soci::use(name), soci::into(row.last_event_id, ind),
      soci::into(row.attempts), soci::into(row.next_attempt_at),
      soci::into(row.last_error);
  return d.sql.got_data() && ind == soci::i_ok;
}

void store_step(database::impl& d, const std::string& endpoint,
                const webhook_step& step) {
  std::string name = endpoint;
  std::string now = now_text();
  if (step.dead) {
    const auto& dead = *step.dead;
    long long event_id = dead.event_id;
    std::string type = dead.event_type;
    int status = dead.status;
    std::string error = dead.error;
    d.sql << "INSERT INTO webhook_dead_letters (endpoint, event_id,"
             " event_type, status, error, failed_at) VALUES (:endpoint,"
             " :event_id, :type, :status, :error, :now)",
        soci::use(name), soci::use(event_id), soci::use(type),
        soci::use(status), soci::use(error), soci::use(now);
  }
  progress_row row;
  row.last_event_id = step.progress.last_event_id;
  row.attempts = step.progress.attempts;
  row.next_attempt_at = step.progress.next_attempt_at;
  row.last_error = step.progress.last_error;
  d.sql << "UPDATE webhook_progress SET last_event_id = :last, attempts ="
           " :attempts, next_attempt_at = :next, last_error = :error,"
           " updated_at = :now WHERE endpoint = :endpoint",
      soci::use(row.last_event_id), soci::use(row.attempts),
      soci::use(row.next_attempt_at), soci::use(row.last_error),
      soci::use(now), soci::use(name);
}

} // namespace

caf::expected<bool> database::claim_webhook(const std::string& endpoint,
                                            const webhook_step_fn& step) {
  auto& d = *impl_;
  caf::error failed;
  auto ran = d.run("claim_webhook", false, [&]() -> bool {
    progress_row row;
    if (d.kind == backend::postgresql) {
      // The lock lives as long as this transaction: held while the step
      // POSTs, released by the commit, the rollback or a dropped session.
      impl::write_tx tx{d};
      if (!select_row(d, endpoint, true, row))
        return false;
      auto done = step(*this, row.value());
      if (!done) {
        failed = std::move(done.error());
        return true;
      }
      if (done->store)
        store_step(d, endpoint, *done);
      tx.commit();
      return true;
    }
    // SQLite: holding its one write lock through a POST would stall the
    // comms log; one instance owns the file, so there is nobody to exclude.
    if (!select_row(d, endpoint, false, row))
      return false;
    auto done = step(*this, row.value());
    if (!done) {
      failed = std::move(done.error());
      return true;
    }
    if (done->store) {
      impl::write_tx tx{d};
      store_step(d, endpoint, *done);
      tx.commit();
    }
    return true;
  });
  if (!ran)
    return std::move(ran.error());
  if (failed)
    return failed;
  return *ran;
}

caf::expected<void> database::ensure_webhook(const std::string& endpoint) {
  auto& d = *impl_;
  auto res = d.run("ensure_webhook", false, [&] {
    ensure_row(d, endpoint);
    return true;
  });
  if (!res)
    return std::move(res.error());
  return caf::unit;
}

caf::expected<webhook_progress>
database::webhook_progress_of(const std::string& endpoint) {
  auto& d = *impl_;
  return d.run("webhook_progress_of", true, [&] {
    progress_row row;
    select_row(d, endpoint, false, row);
    return row.value();
  });
}

caf::expected<std::vector<webhook_dead_letter>>
database::webhook_dead_letters(const std::string& endpoint, size_t limit) {
  auto& d = *impl_;
  return d.run("webhook_dead_letters", true, [&] {
    std::vector<webhook_dead_letter> out;
    std::string name = endpoint;
    long long n = static_cast<long long>(limit);
    long long event_id = 0;
    int status = 0;
    webhook_dead_letter dead;
    soci::statement st
        = (d.sql.prepare << "SELECT event_id, event_type, status, error,"
                            " failed_at FROM webhook_dead_letters WHERE"
                            " endpoint = :endpoint ORDER BY id LIMIT :n",
           soci::use(name), soci::use(n), soci::into(event_id),
           soci::into(dead.event_type), soci::into(status),
           soci::into(dead.error), soci::into(dead.failed_at));
    if (st.execute(true)) {
      do {
        dead.event_id = event_id;
        dead.status = status;
        out.push_back(dead);
      } while (st.fetch());
    }
    return out;
  });
}

} // namespace sb::store
