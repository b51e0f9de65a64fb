// store::database customers as the CRM API changes them: list, add refusing
// duplicates (or replaying an Idempotency-Key), change, delete; each change
// re-matches the unmatched comms entries that carry the customer's number.

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "adapters/store/database_impl.hpp"
#include "core/error.hpp"

namespace sb::store {

namespace {

/// Serializes the duplicate check and the write of customers between
/// several instances on one PostgreSQL (SQLite: BEGIN IMMEDIATE).
constexpr long long customers_lock_key = 0x5357424432; // "SWBD2"

/// A result or the error that refused it, carried out of impl::run (which
/// turns only exceptions into errors).
template <class T>
struct outcome {
  T value;
  caf::error refused;
};

template <class T>
caf::expected<T> unwrap(caf::expected<outcome<T>> res) {
  if (!res)
    return std::move(res.error());
  if (res->refused)
    return std::move(res->refused);
  return std::move(res->value);
}

void lock_customers(database::impl& d) {
  if (d.kind == backend::postgresql)
    d.sql << "SELECT pg_advisory_xact_lock(" << customers_lock_key << ")";
}

caf::optional<customer> load_customer(database::impl& d, long long id) {
  customer_row row;
  soci::statement st(d.sql);
  bind_row(st, row);
  st.exchange(soci::use(id));
  st.alloc();
  st.prepare(std::string{"SELECT "} + customer_columns
             + " FROM customers WHERE id = :id");
  st.define_and_bind();
  if (!st.execute(true))
    return caf::none;
  return row.value();
}

/// Another customer (not `self_id`) holding `e164` or `external_id`.
caf::error find_conflict(database::impl& d, const std::string& e164,
                         const std::string& external_id, long long self_id) {
  long long other = 0;
  soci::indicator ind = soci::i_null;
  if (!e164.empty()) {
    d.sql << "SELECT MIN(id) FROM customers WHERE phone_e164 = :e AND id <> :s",
        soci::use(e164), soci::use(self_id), soci::into(other, ind);
    if (ind == soci::i_ok)
      return caf::make_error(
          ec::conflict, "customer " + std::to_string(other)
                            + " already has the number " + e164
                            + "; change that customer with PATCH "
                              "/api/crm/customers/"
                            + std::to_string(other));
  }
  if (!external_id.empty()) {
    ind = soci::i_null;
    d.sql << "SELECT MIN(id) FROM customers WHERE external_id = :x"
             " AND id <> :s",
        soci::use(external_id), soci::use(self_id), soci::into(other, ind);
    if (ind == soci::i_ok)
      return caf::make_error(
          ec::conflict, "customer " + std::to_string(other)
                            + " already has the external_id '" + external_id
                            + "'; change that customer with PATCH "
                              "/api/crm/customers/"
                            + std::to_string(other));
  }
  return caf::none;
}

/// Attaches customer `id` to every unmatched outside call from `e164`;
/// returns their ids.
std::vector<int64_t> rematch(database::impl& d, long long id,
                             const std::string& e164, const std::string& now) {
  std::vector<int64_t> out;
  if (e164.empty())
    return out;
  // Read to the end: SQLite cannot commit while the statement still runs.
  soci::rowset<long long> rows
      = (d.sql.prepare << "UPDATE crm_comms_log SET customer_id = :id,"
                          " updated_at = :now WHERE customer_id IS NULL"
                          " AND external_e164 = :e AND direction <> 'internal'"
                          " RETURNING id",
         soci::use(id), soci::use(now), soci::use(e164));
  for (auto entry : rows)
    out.push_back(entry);
  std::sort(out.begin(), out.end());
  return out;
}

std::string fingerprint(const customer& c) {
  return c.name + '\n' + c.phone_e164 + '\n' + c.external_id;
}

/// The customer a used Idempotency-Key answered with, or an error when the
/// key was used for different data; none when the key is new.
caf::optional<outcome<customer_change>>
replay_key(database::impl& d, const std::string& key, const customer& c) {
  long long id = 0;
  std::string request;
  soci::indicator ind = soci::i_null;
  d.sql << "SELECT customer_id, request FROM customer_idempotency"
           " WHERE key = :k",
      soci::use(key), soci::into(id, ind), soci::into(request);
  if (ind != soci::i_ok)
    return caf::none;
  outcome<customer_change> out;
  auto first = load_customer(d, id);
  if (request != fingerprint(c) || !first) {
    out.refused = caf::make_error(
        ec::conflict, "Idempotency-Key was already used for a different "
                      "customer (id "
                          + std::to_string(id)
                          + "); use a new key for a new customer");
    return out;
  }
  out.value.value = std::move(*first);
  out.value.replayed = true;
  return out;
}

} // namespace

caf::expected<std::vector<customer>>
database::list_customers(const customer_query& q) {
  auto& d = *impl_;
  return d.run("list_customers", true, [&] {
    std::vector<customer> out;
    customer_row row;
    long long after = q.after_id;
    auto limit = std::clamp<int64_t>(q.limit, 1, 500);
    std::string where = "WHERE id > :after";
    soci::statement st(d.sql);
    bind_row(st, row);
    st.exchange(soci::use(after));
    if (!q.phone_e164.empty()) {
      where += " AND phone_e164 = :e";
      st.exchange(soci::use(q.phone_e164));
    }
    if (!q.external_id.empty()) {
      where += " AND external_id = :x";
      st.exchange(soci::use(q.external_id));
    }
    st.alloc();
    st.prepare(std::string{"SELECT "} + customer_columns + " FROM customers "
               + where + " ORDER BY id LIMIT " + std::to_string(limit));
    st.define_and_bind();
    if (st.execute(true)) {
      do {
        out.push_back(row.value());
      } while (st.fetch());
    }
    return out;
  });
}

caf::expected<customer_change>
database::add_unique_customer(customer c, const std::string& idempotency_key) {
  auto& d = *impl_;
  return unwrap(d.run("add_customer", false, [&] {
    outcome<customer_change> out;
    impl::write_tx tx{d};
    lock_customers(d);
    if (!idempotency_key.empty())
      if (auto replayed = replay_key(d, idempotency_key, c)) {
        tx.commit();
        return std::move(*replayed);
      }
    if ((out.refused = find_conflict(d, c.phone_e164, c.external_id, 0)))
      return out;
    auto now = iso8601_utc(now_micros());
    customer_row row;
    long long id = 0;
    {
      soci::statement st(d.sql);
      d.prepare_customer_insert(st, row, id);
      out.value.value = d.insert_customer(st, row, id, c, now);
    }
    out.value.matched_entries = rematch(d, id, c.phone_e164, now);
    if (!idempotency_key.empty()) {
      auto request = fingerprint(c);
      d.sql << "INSERT INTO customer_idempotency (key, customer_id, request,"
               " created_at) VALUES (:k, :id, :r, :at)",
          soci::use(idempotency_key), soci::use(id), soci::use(request),
          soci::use(now);
    }
    tx.commit();
    return out;
  }));
}

caf::expected<customer_change>
database::update_customer(const customer_patch& patch) {
  auto& d = *impl_;
  return unwrap(d.run("update_customer", false, [&] {
    outcome<customer_change> out;
    impl::write_tx tx{d};
    lock_customers(d);
    long long id = patch.id;
    auto current = load_customer(d, id);
    if (!current) {
      out.refused = caf::make_error(ec::not_found, "no customer with id "
                                                       + std::to_string(id));
      return out;
    }
    auto next = *current;
    if (patch.name)
      next.name = *patch.name;
    if (patch.phone) {
      next.phone = *patch.phone;
      next.phone_e164 = patch.phone_e164;
    }
    if (patch.external_id)
      next.external_id = *patch.external_id;
    if (next.name == current->name && next.phone == current->phone
        && next.phone_e164 == current->phone_e164
        && next.external_id == current->external_id) {
      out.value.value = std::move(next);
      tx.commit();
      return out;
    }
    if ((out.refused = find_conflict(
             d, next.phone_e164 != current->phone_e164 ? next.phone_e164 : "",
             next.external_id != current->external_id ? next.external_id : "",
             id)))
      return out;
    next.updated_at = iso8601_utc(now_micros());
    d.sql << "UPDATE customers SET name = :n, phone = :p, phone_e164 = :e,"
             " external_id = :x, updated_at = :u WHERE id = :id",
        soci::use(next.name), soci::use(next.phone),
        soci::use(next.phone_e164), soci::use(next.external_id),
        soci::use(next.updated_at), soci::use(id);
    out.value.matched_entries = rematch(d, id, next.phone_e164,
                                        next.updated_at);
    out.value.value = std::move(next);
    tx.commit();
    return out;
  }));
}

caf::expected<customer_change> database::delete_customer(int64_t id) {
  auto& d = *impl_;
  return unwrap(d.run("delete_customer", false, [&] {
    outcome<customer_change> out;
    impl::write_tx tx{d};
    lock_customers(d);
    long long key = id;
    auto current = load_customer(d, key);
    if (!current) {
      out.refused = caf::make_error(ec::not_found, "no customer with id "
                                                       + std::to_string(id));
      return out;
    }
    // The entries stay for the record, detached; a syncing CRM sees them
    // change.
    auto now = iso8601_utc(now_micros());
    soci::statement detach
        = (d.sql.prepare << "UPDATE crm_comms_log SET customer_id = NULL,"
                            " updated_at = :now WHERE customer_id = :id",
           soci::use(now), soci::use(key));
    detach.execute(true);
    out.value.detached_entries = detach.get_affected_rows();
    d.sql << "DELETE FROM customer_idempotency WHERE customer_id = :id",
        soci::use(key);
    d.sql << "DELETE FROM customers WHERE id = :id", soci::use(key);
    out.value.value = std::move(*current);
    tx.commit();
    return out;
  }));
}

} // namespace sb::store
