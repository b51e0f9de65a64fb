// Customers as the CRM API changes them (unique number and external id,
// Idempotency-Key, change, delete keeping detached entries, paged list) and
// the comms log a CRM syncs from (updated_at, customer_name, updated_since,
// both orders, external_number, re-match on a customer change); the
// migration to schema version 5 (timestamptz on PostgreSQL). On SQLite and
// PostgreSQL.

#include "adapters/store/migrations.hpp"
#include "core/error.hpp"
#include "tests/fixtures/store_support.hpp"

#include <memory>
#include <utility>

using namespace sb;
using namespace sb::test;

namespace {

std::unique_ptr<soci::session> raw_session(const backend_case& b) {
  if (b.label == "sqlite")
    return std::make_unique<soci::session>(soci::sqlite3, b.url.substr(7));
  return std::make_unique<soci::session>(soci::postgresql, soci_pg(b.url));
}

customer person(std::string name, std::string e164, std::string external_id) {
  customer c;
  c.name = std::move(name);
  c.phone = e164;
  c.phone_e164 = std::move(e164);
  c.external_id = std::move(external_id);
  return c;
}

customer_change added(store::database& db, customer c,
                      const std::string& key = {}) {
  auto res = db.add_unique_customer(std::move(c), key);
  if (!res)
    FAIL("add_unique_customer: " << describe(res.error()));
  return *res;
}

/// An unmatched inbound call from `e164`.
matched_call unmatched_from(const std::string& linkedid,
                            const std::string& e164, int64_t started) {
  auto m = make_call(linkedid, started);
  m.call.external_number = e164;
  m.external_e164 = e164;
  return m;
}

std::vector<int64_t> ids_of(const std::vector<comms_entry>& rows) {
  std::vector<int64_t> out;
  for (const auto& e : rows)
    out.push_back(e.id);
  return out;
}

std::vector<comms_entry> query(store::database& db, const comms_query& q) {
  auto rows = db.query_comms(q);
  if (!rows)
    FAIL("query_comms: " << describe(rows.error()));
  return *rows;
}

} // namespace

TEST_CASE("a customer's number and external id are unique; an "
          "Idempotency-Key replays the first answer",
          "[store][customers]") {
  for_each_backend("customers unique", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    auto ada = added(*db, person("Ada", "+442079460123", "crm-1"));
    CHECK(ada.value.id > 0);
    CHECK(ada.value.external_id == "crm-1");
    CHECK(ada.value.updated_at == ada.value.created_at);
    CHECK(ada.value.created_at.size() == 20);

    auto same_phone
        = db->add_unique_customer(person("Ada 2", "+442079460123", ""), "");
    REQUIRE_FALSE(same_phone);
    CHECK(code_of(same_phone.error()) == ec::conflict);
    CHECK(describe(same_phone.error()).find(std::to_string(ada.value.id))
          != std::string::npos);
    auto same_external
        = db->add_unique_customer(person("Bob", "+447700900123", "crm-1"), "");
    REQUIRE_FALSE(same_external);
    CHECK(code_of(same_external.error()) == ec::conflict);

    auto bob = added(*db, person("Bob", "+447700900123", "crm-2"), "key-1");
    CHECK_FALSE(bob.replayed);
    auto again = added(*db, person("Bob", "+447700900123", "crm-2"), "key-1");
    CHECK(again.replayed);
    CHECK(again.value.id == bob.value.id);
    auto reused
        = db->add_unique_customer(person("Eve", "+447700900999", ""), "key-1");
    REQUIRE_FALSE(reused);
    CHECK(code_of(reused.error()) == ec::conflict);
    CHECK(describe(reused.error()).rfind("Idempotency-Key", 0) == 0);

    auto all = db->list_customers(customer_query{});
    REQUIRE(all);
    CHECK(all->size() == 2);
  });
}

TEST_CASE("a customer changes by patch; a taken number or id is refused; "
          "delete keeps the entries detached",
          "[store][customers]") {
  for_each_backend("customers change", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    auto ada = added(*db, person("Ada", "+442079460123", "crm-1")).value;
    auto bob = added(*db, person("Bob", "+447700900123", "crm-2")).value;
    auto call = make_call("1795299069.1", 1795299069, ada.id);
    REQUIRE(db->write_calls({call}));

    customer_patch rename;
    rename.id = ada.id;
    rename.name = "Ada Lovelace";
    auto renamed = db->update_customer(rename);
    REQUIRE(renamed);
    CHECK(renamed->value.name == "Ada Lovelace");
    CHECK(renamed->value.phone_e164 == "+442079460123");
    CHECK(renamed->value.external_id == "crm-1");
    auto entry = db->find_comms("ami", "1795299069.1");
    REQUIRE(entry);
    REQUIRE(*entry);
    CHECK((*entry)->customer_name == "Ada Lovelace"); // joined at read

    customer_patch steal;
    steal.id = bob.id;
    steal.phone = "+44 20 7946 0123";
    steal.phone_e164 = "+442079460123";
    auto stolen = db->update_customer(steal);
    REQUIRE_FALSE(stolen);
    CHECK(code_of(stolen.error()) == ec::conflict);
    customer_patch steal_id;
    steal_id.id = bob.id;
    steal_id.external_id = "crm-1";
    REQUIRE_FALSE(db->update_customer(steal_id));
    customer_patch nobody;
    nobody.id = 999999;
    nobody.name = "X";
    auto missing = db->update_customer(nobody);
    REQUIRE_FALSE(missing);
    CHECK(code_of(missing.error()) == ec::not_found);
    auto bob_now = db->get_customer(bob.id);
    REQUIRE(bob_now);
    REQUIRE(*bob_now);
    CHECK((*bob_now)->phone_e164 == "+447700900123"); // nothing changed

    auto gone = db->delete_customer(ada.id);
    REQUIRE(gone);
    CHECK(gone->detached_entries == 1);
    CHECK(gone->value.name == "Ada Lovelace");
    auto after = db->get_customer(ada.id);
    REQUIRE(after);
    CHECK_FALSE(*after);
    auto kept = db->find_comms("ami", "1795299069.1");
    REQUIRE(kept);
    REQUIRE(*kept);
    CHECK_FALSE((*kept)->customer_id);
    CHECK((*kept)->customer_name.empty());
    auto twice = db->delete_customer(ada.id);
    REQUIRE_FALSE(twice);
    CHECK(code_of(twice.error()) == ec::not_found);
    // Its number is free again.
    added(*db, person("Ada again", "+442079460123", "crm-1"));
  });
}

TEST_CASE("customers are listed by id in pages, filtered by number and "
          "external id",
          "[store][customers]") {
  for_each_backend("customers list", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    std::vector<int64_t> ids;
    for (int i = 0; i < 5; ++i)
      ids.push_back(added(*db, person("P" + std::to_string(i),
                                      "+4477009001" + std::to_string(10 + i),
                                      "x" + std::to_string(i)))
                        .value.id);
    customer_query q;
    q.limit = 2;
    std::vector<int64_t> seen;
    for (int page = 0; page < 4; ++page) {
      auto rows = db->list_customers(q);
      REQUIRE(rows);
      for (auto& c : *rows)
        seen.push_back(c.id);
      if (rows->empty())
        break;
      q.after_id = rows->back().id;
    }
    CHECK(seen == ids);
    customer_query by_phone;
    by_phone.phone_e164 = "+447700900112";
    auto one = db->list_customers(by_phone);
    REQUIRE(one);
    REQUIRE(one->size() == 1);
    CHECK(one->front().id == ids[2]);
    customer_query by_external;
    by_external.external_id = "x4";
    auto other = db->list_customers(by_external);
    REQUIRE(other);
    REQUIRE(other->size() == 1);
    CHECK(other->front().id == ids[4]);
  });
}

TEST_CASE("an unmatched call is re-matched when a customer with its number "
          "is added or changed",
          "[store][customers][rematch]") {
  for_each_backend("rematch", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    REQUIRE(db->write_calls({unmatched_from("1.1", "+447700900123", 1795299000),
                             unmatched_from("1.2", "+447700900123", 1795299100),
                             unmatched_from("1.3", "+442079460999", 1795299200)}));
    auto first = db->find_comms("ami", "1.1");
    REQUIRE(first);
    REQUIRE(*first);
    CHECK((*first)->external_e164 == "+447700900123");
    // Make the re-match visible in updated_at.
    *raw_session(b) << "UPDATE crm_comms_log SET updated_at = "
                       "'2020-01-01T00:00:00Z'";

    auto bob = added(*db, person("Bob", "+447700900123", ""));
    REQUIRE(bob.matched_entries.size() == 2);
    for (const char* id : {"1.1", "1.2"}) {
      auto e = db->find_comms("ami", id);
      REQUIRE(e);
      REQUIRE(*e);
      CHECK((*e)->customer_id == caf::optional<int64_t>{bob.value.id});
      CHECK((*e)->customer_name == "Bob");
      CHECK((*e)->updated_at > "2020-01-01T00:00:00Z");
    }
    auto other = db->find_comms("ami", "1.3");
    REQUIRE(other);
    REQUIRE(*other);
    CHECK_FALSE((*other)->customer_id);

    // A changed number re-matches too; entries of the old number stay.
    auto eve = added(*db, person("Eve", "+447700900555", ""));
    CHECK(eve.matched_entries.empty());
    customer_patch move;
    move.id = eve.value.id;
    move.phone = "+442079460999";
    move.phone_e164 = "+442079460999";
    auto moved = db->update_customer(move);
    REQUIRE(moved);
    REQUIRE(moved->matched_entries.size() == 1);
    CHECK(moved->matched_entries.front() == (*other)->id);
  });
}

TEST_CASE("the comms log pages by updated_since and external number in both "
          "orders",
          "[store][sync]") {
  for_each_backend("sync", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    std::vector<matched_call> calls;
    for (int i = 0; i < 6; ++i)
      calls.push_back(unmatched_from("2." + std::to_string(i),
                                     i % 2 == 0 ? "+447700900123"
                                                : "+442079460999",
                                     1795299000 + i * 60));
    REQUIRE(db->write_calls(calls));
    auto all = query(*db, comms_query{});
    REQUIRE(all.size() == 6);
    // Changes in another order than the calls: entry k changed at minute
    // (5 - k), two of them in the same second.
    auto s = raw_session(b);
    const char* times[] = {"2026-12-01T10:05:00Z", "2026-12-01T10:04:00Z",
                           "2026-12-01T10:03:00Z", "2026-12-01T10:03:00Z",
                           "2026-12-01T10:01:00Z", "2026-12-01T10:00:00Z"};
    std::vector<long long> by_call;
    for (int i = 0; i < 6; ++i) {
      auto e = db->find_comms("ami", "2." + std::to_string(i));
      REQUIRE(e);
      REQUIRE(*e);
      long long id = (*e)->id;
      by_call.push_back(id);
      std::string t = times[i];
      *s << "UPDATE crm_comms_log SET updated_at = :t WHERE id = :id",
          soci::use(t), soci::use(id);
    }
    comms_query q;
    q.updated_since = "2026-12-01T10:01:00Z";
    q.ascending = true;
    q.limit = 2;
    std::vector<int64_t> seen;
    for (int page = 0; page < 5; ++page) {
      auto rows = query(*db, q);
      for (auto& e : rows) {
        seen.push_back(e.id);
        CHECK(e.updated_at >= "2026-12-01T10:01:00Z");
      }
      if (rows.size() < 2)
        break;
      q.cursor_occurred_at = rows.back().updated_at;
      q.cursor_id = rows.back().id;
    }
    auto tie_low = std::min(by_call[2], by_call[3]);
    auto tie_high = std::max(by_call[2], by_call[3]);
    CHECK(seen
          == std::vector<int64_t>{by_call[4], tie_low, tie_high, by_call[1],
                                  by_call[0]});
    // Newest change first, paged the other way.
    comms_query d;
    d.updated_since = "2026-12-01T10:01:00Z";
    d.limit = 3;
    auto page1 = query(*db, d);
    REQUIRE(page1.size() == 3);
    d.cursor_occurred_at = page1.back().updated_at;
    d.cursor_id = page1.back().id;
    auto page2 = query(*db, d);
    auto down = ids_of(page1);
    for (auto id : ids_of(page2))
      down.push_back(id);
    CHECK(down
          == std::vector<int64_t>{by_call[0], by_call[1], tie_high, tie_low,
                                  by_call[4]});
    // By number, oldest call first, with the cursor.
    comms_query n;
    n.external_e164 = "+447700900123";
    n.ascending = true;
    n.limit = 2;
    auto n1 = query(*db, n);
    REQUIRE(n1.size() == 2);
    n.cursor_occurred_at = n1.back().occurred_at;
    n.cursor_id = n1.back().id;
    auto n2 = query(*db, n);
    REQUIRE(n2.size() == 1);
    CHECK(std::vector<int64_t>{n1[0].id, n1[1].id, n2[0].id}
          == std::vector<int64_t>{by_call[0], by_call[2], by_call[4]});
  });
}

TEST_CASE("an Ozonetel merge moves updated_at", "[store][sync]") {
  for_each_backend("merge updated_at", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    auto first = make_call("UCID-1", 1795299069, caf::none, "ozonetel");
    first.call.disposition = call_disposition::no_answer;
    REQUIRE(db->write_calls({first}));
    *raw_session(b) << "UPDATE crm_comms_log SET updated_at = "
                       "'2020-01-01T00:00:00Z'";
    auto second = make_call("UCID-1", 1795299069, caf::none, "ozonetel");
    second.call.notes = "Disposition: APPOINTMENT_BOOKED";
    std::vector<store::write_outcome> outcomes;
    REQUIRE(db->write_calls({second}, &outcomes));
    CHECK(outcomes.front() == store::write_outcome::merged);
    auto e = db->find_comms("ozonetel", "UCID-1");
    REQUIRE(e);
    REQUIRE(*e);
    CHECK((*e)->updated_at > "2020-01-01T00:00:00Z");
    CHECK((*e)->updated_at.size() == 20);
    comms_query q;
    q.updated_since = "2021-01-01T00:00:00Z";
    CHECK(query(*db, q).size() == 1);
  });
}

TEST_CASE("schema version 5 keeps the rows; PostgreSQL holds the times as "
          "timestamptz",
          "[store][migration]") {
  for_each_backend("migration 5", [](const backend_case& b) {
    auto kind = b.label == "sqlite" ? store::backend::sqlite
                                    : store::backend::postgresql;
    {
      auto s = raw_session(b);
      *s << "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL, applied_at TEXT NOT NULL)";
      for (const auto& m : store::migrations()) {
        if (m.version >= 5)
          continue;
        for (const auto* statement : m.statements)
          *s << store::dialect(statement, kind);
        *s << "INSERT INTO schema_migrations (version, name, applied_at)"
              " VALUES (:v, 'old', '2026-11-01T00:00:00Z')",
            soci::use(m.version);
      }
      *s << "INSERT INTO customers (name, phone, phone_e164, created_at)"
            " VALUES ('Ada', '+442079460123', '+442079460123',"
            " '2026-11-20T08:00:00Z')";
      *s << "INSERT INTO crm_comms_log (customer_id, type, direction, body,"
            " source, ext_message_id, external_number, occurred_at,"
            " created_at) VALUES (1, 'call', 'inbound', 'Call duration: 1s',"
            " 'ami', '1.0', '+442079460123', '2026-11-21T22:09:58Z',"
            " '2026-11-21T22:10:10Z')";
    }
    auto db = open_or_fail(b.url);
    auto e = db->find_comms("ami", "1.0");
    REQUIRE(e);
    REQUIRE(*e);
    CHECK((*e)->occurred_at == "2026-11-21T22:09:58Z");
    CHECK((*e)->created_at == "2026-11-21T22:10:10Z");
    CHECK((*e)->updated_at == "2026-11-21T22:10:10Z");
    CHECK((*e)->external_e164 == "+442079460123");
    CHECK((*e)->customer_name == "Ada");
    auto ada = db->get_customer(1);
    REQUIRE(ada);
    REQUIRE(*ada);
    CHECK((*ada)->updated_at == "2026-11-20T08:00:00Z");
    comms_query q;
    q.since = "2026-11-21T22:09:58Z";
    q.until = "2026-11-21T22:09:59Z";
    CHECK(query(*db, q).size() == 1);
    if (kind == store::backend::postgresql) {
      std::string type;
      *raw_session(b) << "SELECT data_type FROM information_schema.columns"
                         " WHERE table_name = 'crm_comms_log' AND"
                         " column_name = 'occurred_at'",
          soci::into(type);
      CHECK(type == "timestamp with time zone");
    }
  });
}
