// store::database reads: the comms log (pages, one entry) and customers.

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "adapters/store/database_impl.hpp"
#include "core/error.hpp"

namespace sb::store {

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
      return caf::make_error(ec::rejected,
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
  if (!q.disposition.empty())
    add_text("disposition =", q.disposition);
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
