// store::database reads: the comms log (pages, one entry) and customers.

#include <algorithm>
#include <deque>
#include <utility>
#include <functional>
#include <string>
#include <vector>

#include "adapters/store/database_impl.hpp"
#include "core/error.hpp"

namespace sb::store {

namespace {

/// A WHERE clause and the values it binds. SOCI binds by reference: the
/// deques own every value at a stable address until the statement ran.
struct bound_filter {
  std::deque<std::string> texts;
  std::deque<long long> numbers;
  std::vector<std::function<void(soci::statement&)>> binders;
  std::string where;
  int n = 0;

  std::string placeholder() {
    return ":p" + std::to_string(n++);
  }
  std::string& text(std::string value) {
    texts.push_back(std::move(value));
    auto* ref = &texts.back();
    binders.emplace_back(
        [ref](soci::statement& st) { st.exchange(soci::use(*ref)); });
    return *ref;
  }
  void number(long long value) {
    numbers.push_back(value);
    auto* ref = &numbers.back();
    binders.emplace_back(
        [ref](soci::statement& st) { st.exchange(soci::use(*ref)); });
  }
  void clause(const std::string& sql) {
    where += (where.empty() ? " WHERE " : " AND ") + sql;
  }
  /// `column_op :p` bound to `value`, e.g. ("type =", "call").
  void add_text(const std::string& column_op, std::string value) {
    clause(column_op + " " + placeholder());
    text(std::move(value));
  }
  void add_number(const std::string& column_op, long long value) {
    clause(column_op + " " + placeholder());
    number(value);
  }
  /// Rows past (time, id) in the page order of `key`.
  void add_cursor(const std::string& key, bool ascending,
                  const std::string& time, long long id) {
    const char* past = ascending ? " > " : " < ";
    auto p1 = placeholder();
    auto p2 = placeholder();
    auto p3 = placeholder();
    clause("(" + key + past + p1 + " OR (" + key + " = " + p2 + " AND id"
           + past + p3 + "))");
    text(time);
    text(time);
    number(id);
  }
  void bind(soci::statement& st) const {
    for (const auto& b : binders)
      b(st);
  }
};

caf::expected<std::string> normalized_time(const std::string& text,
                                           const char* field) {
  auto t = parse_iso8601(text);
  if (!t)
    return caf::make_error(ec::rejected,
                           std::string{field} + " is not an ISO-8601 time");
  return iso8601_utc(*t);
}

/// The WHERE clause of a comms query; an error for a malformed time.
caf::error comms_filter(const comms_query& q, bound_filter& f,
                        const std::string& key) {
  if (!q.type.empty())
    f.add_text("type =", q.type);
  if (q.customer_id)
    f.add_number("customer_id =", *q.customer_id);
  if (!q.direction.empty())
    f.add_text("direction =", q.direction);
  if (!q.source.empty())
    f.add_text("source =", q.source);
  if (!q.disposition.empty())
    f.add_text("disposition =", q.disposition);
  if (!q.external_e164.empty())
    f.add_text("external_e164 =", q.external_e164);
  std::pair<const std::string*, const char*> ranges[] = {
      {&q.since, "since"}, {&q.until, "until"}, {&q.updated_since, "updated_since"}};
  const char* ops[] = {"occurred_at >=", "occurred_at <", "updated_at >="};
  for (size_t i = 0; i < 3; ++i) {
    if (ranges[i].first->empty())
      continue;
    auto t = normalized_time(*ranges[i].first, ranges[i].second);
    if (!t)
      return std::move(t.error());
    f.add_text(ops[i], *t);
  }
  if (!q.cursor_occurred_at.empty()) {
    auto t = normalized_time(q.cursor_occurred_at, "cursor");
    if (!t)
      return std::move(t.error());
    f.add_cursor(key, q.ascending, *t, q.cursor_id);
  }
  return caf::none;
}

} // namespace

caf::expected<std::vector<comms_entry>>
database::query_comms(const comms_query& q) {
  // With updated_since the page follows the changes (updated_at), which is
  // what a syncing CRM pages through; otherwise the calls' own time.
  const std::string key = q.updated_since.empty() ? "occurred_at" : "updated_at";
  bound_filter f;
  if (auto err = comms_filter(q, f, key))
    return err;
  auto limit = std::clamp<int64_t>(q.limit, 1, 500);
  const char* dir = q.ascending ? " ASC" : " DESC";
  auto query = std::string{"SELECT "} + comms_columns + " FROM crm_comms_log"
               + f.where + " ORDER BY " + key + dir + ", id" + dir + " LIMIT "
               + std::to_string(limit);
  auto& d = *impl_;
  return d.run("query_comms", true, [&] {
    std::vector<comms_entry> out;
    comms_row row;
    soci::statement st(d.sql);
    bind_row(st, row);
    f.bind(st);
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
                 " ext_message_id = :e ORDER BY id");
    st.define_and_bind();
    caf::optional<comms_entry> out;
    if (st.execute(true))
      out = row.entry();
    return out;
  });
}

caf::expected<std::vector<caf::optional<comms_entry>>>
database::find_comms_many(
  const std::vector<std::tuple<std::string, std::string, std::string>>&
    keys) {
  auto& d = *impl_;
  return d.run("find_comms_many", true, [&] {
    std::vector<caf::optional<comms_entry>> out;
    out.reserve(keys.size());
    if (keys.empty())
      return out;
    comms_row row;
    std::string source;
    std::string origin;
    std::string ext_message_id;
    soci::statement st(d.sql);
    bind_row(st, row);
    st.exchange(soci::use(source));
    st.exchange(soci::use(origin));
    st.exchange(soci::use(ext_message_id));
    st.alloc();
    st.prepare(std::string{"SELECT "} + comms_columns
               + " FROM crm_comms_log WHERE source = :s AND origin = :o"
                 " AND ext_message_id = :e");
    st.define_and_bind();
    for (const auto& [s, o, e] : keys) {
      source = s;
      origin = o;
      ext_message_id = e;
      if (st.execute(true))
        out.emplace_back(row.entry());
      else
        out.emplace_back();
    }
    return out;
  });
}

caf::expected<caf::optional<comms_entry>>
database::find_comms(const std::string& source, const std::string& origin,
                     const std::string& ext_message_id) {
  auto& d = *impl_;
  return d.run("find_comms", true, [&] {
    return d.load_comms("source = :s AND origin = :o AND ext_message_id = :e",
                        source, origin, ext_message_id);
  });
}

caf::expected<unix_micros>
database::latest_end(const std::string& source, const std::string& origin) {
  auto& d = *impl_;
  return d.run("latest_end", true, [&] {
    std::string at;
    long long duration = 0;
    soci::statement st
        = (d.sql.prepare << "SELECT occurred_at, duration_seconds FROM"
                            " crm_comms_log WHERE source = :s AND origin = :o"
                            " ORDER BY occurred_at DESC LIMIT 100",
           soci::use(source), soci::use(origin), soci::into(at),
           soci::into(duration));
    st.execute();
    unix_micros latest = 0;
    while (st.fetch())
      if (auto t = parse_iso8601(at))
        latest = std::max<unix_micros>(latest, *t + duration * 1'000'000);
    return latest;
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
    st.prepare(std::string{"SELECT "} + customer_columns
               + " FROM customers WHERE id = :id");
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
