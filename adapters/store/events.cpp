// store::database: the event log (the `events` table).

#include <string>
#include <vector>

#include "adapters/store/database_impl.hpp"

namespace sb::store {

namespace {

/// Serializes event appends of every instance sharing one PostgreSQL, so ids
/// are assigned in commit order (a tailing reader never misses one).
constexpr long long events_lock_key = 0x5357424556; // "SWBEV"

constexpr const char* event_columns
    = "id, type, at, origin, call_id, extension, agent_id, customer_id, payload";

struct event_row {
  long long id = 0;
  std::string type;
  std::string at;
  std::string origin;
  std::string call_id;
  std::string extension;
  std::string agent_id;
  long long customer_id = 0;
  soci::indicator customer_ind = soci::i_null;
  std::string payload;

  void bind_out(soci::statement& st) {
    st.exchange(soci::into(id));
    st.exchange(soci::into(type));
    st.exchange(soci::into(at));
    st.exchange(soci::into(origin));
    st.exchange(soci::into(call_id));
    st.exchange(soci::into(extension));
    st.exchange(soci::into(agent_id));
    st.exchange(soci::into(customer_id, customer_ind));
    st.exchange(soci::into(payload));
  }

  stored_event value() const {
    stored_event e;
    e.id = id;
    e.type = type;
    e.at = at;
    e.origin = origin;
    e.call_id = call_id;
    e.extension = extension;
    e.agent_id = agent_id;
    if (customer_ind == soci::i_ok)
      e.customer_id = static_cast<int64_t>(customer_id);
    e.payload_json = payload;
    return e;
  }
};

} // namespace

caf::expected<int64_t>
database::append_events(const std::vector<stored_event>& events) {
  auto& d = *impl_;
  return d.run("append_events", false, [&]() -> int64_t {
    if (events.empty())
      return 0;
    // Column vectors: one bulk statement for the batch.
    auto n = events.size();
    std::vector<std::string> type(n), at(n), origin(n), call_id(n),
      extension(n), agent_id(n), payload(n);
    std::vector<long long> customer_id(n, 0);
    std::vector<soci::indicator> customer_ind(n, soci::i_null);
    for (size_t i = 0; i < n; ++i) {
      const auto& e = events[i];
      type[i] = e.type;
      at[i] = e.at;
      origin[i] = e.origin;
      call_id[i] = e.call_id;
      extension[i] = e.extension;
      agent_id[i] = e.agent_id;
      payload[i] = e.payload_json.empty() ? "{}" : e.payload_json;
      if (e.customer_id) {
        customer_id[i] = *e.customer_id;
        customer_ind[i] = soci::i_ok;
      }
    }
    impl::write_tx tx{d};
    if (d.kind == backend::postgresql)
      d.sql << "SELECT pg_advisory_xact_lock(" << events_lock_key << ")";
    d.sql << "INSERT INTO events (type, at, origin, call_id, extension,"
             " agent_id, customer_id, payload) VALUES (:type, :at, :origin,"
             " :call_id, :extension, :agent_id, :customer_id, :payload)",
      soci::use(type), soci::use(at), soci::use(origin), soci::use(call_id),
      soci::use(extension), soci::use(agent_id),
      soci::use(customer_id, customer_ind), soci::use(payload);
    // The lock (PostgreSQL) or the write transaction (SQLite) is held, so
    // the largest id is this batch's last.
    long long last = 0;
    d.sql << "SELECT MAX(id) FROM events", soci::into(last);
    if (d.kind == backend::postgresql)
      d.sql << "NOTIFY switchboard_events";
    tx.commit();
    return static_cast<int64_t>(last);
  });
}

caf::expected<std::vector<stored_event>>
database::events_after(int64_t after, size_t limit) {
  auto& d = *impl_;
  return d.run("events_after", true, [&] {
    std::vector<stored_event> out;
    event_row row;
    long long from = after;
    long long n = static_cast<long long>(limit);
    soci::statement st(d.sql);
    row.bind_out(st);
    st.exchange(soci::use(from));
    st.exchange(soci::use(n));
    st.alloc();
    st.prepare(std::string{"SELECT "} + event_columns
               + " FROM events WHERE id > :after ORDER BY id LIMIT :n");
    st.define_and_bind();
    if (st.execute(true)) {
      do {
        out.push_back(row.value());
      } while (st.fetch());
    }
    return out;
  });
}

caf::expected<int64_t> database::last_event_id() {
  auto& d = *impl_;
  return d.run("last_event_id", true, [&] {
    long long id = 0;
    soci::indicator ind = soci::i_null;
    d.sql << "SELECT MAX(id) FROM events", soci::into(id, ind);
    return static_cast<int64_t>(ind == soci::i_ok ? id : 0);
  });
}

caf::expected<stored_event> database::first_event() {
  auto& d = *impl_;
  return d.run("first_event", true, [&] {
    event_row row;
    soci::statement st(d.sql);
    row.bind_out(st);
    st.alloc();
    st.prepare(std::string{"SELECT "} + event_columns
               + " FROM events ORDER BY id LIMIT 1");
    st.define_and_bind();
    if (st.execute(true))
      return row.value();
    return stored_event{};
  });
}

caf::expected<int64_t> database::prune_events(const std::string& before) {
  auto& d = *impl_;
  int64_t total = 0;
  // Short transactions: the writers of the comms log and of new events wait
  // for SQLite's one write lock meanwhile.
  constexpr long long chunk = 5000;
  while (true) {
    auto n = d.run("prune_events", false, [&]() -> int64_t {
      impl::write_tx tx{d};
      std::string cutoff = before;
      soci::statement st = (d.sql.prepare
                            << "DELETE FROM events WHERE id IN (SELECT id FROM"
                               " events WHERE at < :before ORDER BY id LIMIT "
                            << chunk << ")",
                            soci::use(cutoff));
      st.execute(true);
      auto affected = st.get_affected_rows();
      tx.commit();
      return affected;
    });
    if (!n)
      return std::move(n.error());
    total += *n;
    if (*n < chunk)
      return total;
  }
}

} // namespace sb::store
