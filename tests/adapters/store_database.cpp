#include "adapters/store/migrations.hpp"
#include "core/db_url.hpp"
#include "core/error.hpp"
#include "adapters/store/migrations.hpp"
#include "tests/fixtures/store_support.hpp"

#include <algorithm>
#include <set>

using namespace sb;
using namespace sb::test;
using store::database;
using store::write_outcome;

namespace {

int64_t count_rows(database& db) {
  auto n = db.count_comms();
  REQUIRE(n);
  return *n;
}

std::vector<comms_entry> query(database& db, const comms_query& q) {
  auto rows = db.query_comms(q);
  if (!rows)
    FAIL("query_comms: " << caf::to_string(rows.error()));
  return std::move(*rows);
}

long long migration_rows(const std::string& url) {
  long long n = -1;
  if (url.rfind("sqlite:", 0) == 0) {
    soci::session s(soci::sqlite3, url.substr(7));
    s << "SELECT COUNT(*) FROM schema_migrations", soci::into(n);
  } else {
    soci::session s(soci::postgresql, soci_pg(url));
    s << "SELECT COUNT(*) FROM schema_migrations", soci::into(n);
  }
  return n;
}

} // namespace

TEST_CASE("ISO-8601 times format and parse as UTC") {
  CHECK(sb::iso8601_utc(0) == "1970-01-01T00:00:00Z");
  CHECK(sb::iso8601_utc(1795299069LL * 1000000) == "2026-11-21T22:11:09Z");
  CHECK(sb::iso8601_utc(951782400LL * 1000000) == "2000-02-29T00:00:00Z");
  CHECK(sb::iso8601_utc(-1000000) == "1969-12-31T23:59:59Z");
  struct row {
    const char* text;
    int64_t unix_seconds;
  };
  for (auto r :
       {row{"2026-11-21T22:09:58Z", 1795298998},
        row{"2026-11-21 22:09:58", 1795298998},
        row{"2026-11-21T22:09:58.750Z", 1795298998},
        row{"2026-11-21T23:09:58+01:00", 1795298998},
        row{"2026-11-22T03:39:58+0530", 1795298998},
        row{"2026-11-21T17:09:58-05", 1795298998},
        row{"2026-11-21T22:09Z", 1795298940}, row{"2026-11-21", 1795219200},
        row{"2000-02-29T12:00:00Z", 951825600}}) {
    INFO(r.text);
    auto t = sb::parse_iso8601(r.text);
    REQUIRE(t);
    CHECK(*t / 1000000 == r.unix_seconds);
  }
  CHECK(*sb::parse_iso8601("2026-11-21T22:09:58.750Z") % 1000000 == 750000);
  for (auto bad : {"", "yesterday", "2026-13-01", "2026-02-29T00:00:00Z",
                   "2026-11-21T24:00:00Z", "2026-11-21T22:09:58Q", "2026/11/21",
                   "2026-11-21T22", "2026-11-21T22:09:58+25:00",
                   "2026-11-21T22:09:58Z trailing"}) {
    INFO(bad);
    CHECK_FALSE(sb::parse_iso8601(bad));
  }
}

TEST_CASE("bodies, notes and redacted URLs") {
  CHECK(store::call_body(42, "") == "Call duration: 42s");
  CHECK(store::call_body(7, "called back\nline 2")
        == "Call duration: 7s\ncalled back\nline 2");
  CHECK(store::body_notes("Call duration: 7s\ncalled back\nline 2")
        == "called back\nline 2");
  CHECK(store::body_notes("Call duration: 7s").empty());
  CHECK(sb::redact_url("postgresql://sb:hunter2@db.example:5432/crm")
        == "postgresql://sb:***@db.example:5432/crm");
  CHECK(sb::redact_url("postgresql://db/crm?user=sb&password=hunter2")
        == "postgresql://db/crm?user=sb&password=***");
  CHECK(sb::redact_url("sqlite:/var/lib/sb.db") == "sqlite:/var/lib/sb.db");
}

TEST_CASE("bad URLs and unreachable servers are errors, without secrets") {
  auto bad = database::open("mysql://localhost/db");
  REQUIRE_FALSE(bad);
  CHECK(sb::code_of(bad.error()) == sb::ec::invalid);
  CHECK_FALSE(store::is_unavailable(bad.error()));
  CHECK_FALSE(database::open("sqlite:"));
  // A port nothing listens on: connection refused at once.
  auto down = database::open(
      "postgresql://sb:topsecretpw@127.0.0.1:1/crm?connect_timeout=2");
  REQUIRE_FALSE(down);
  CHECK(store::is_unavailable(down.error()));
  auto text = caf::to_string(down.error());
  CHECK(text.find("topsecretpw") == std::string::npos);
  // A SQLite file in a directory that does not exist.
  auto missing = database::open("sqlite:/nonexistent-sb-dir/x/y.db");
  REQUIRE_FALSE(missing);
  CHECK(store::is_unavailable(missing.error()));
}

TEST_CASE("migrations are applied once and opening twice is harmless") {
  for_each_backend("migrations", [](const backend_case& b) {
    auto first = open_or_fail(b.url);
    auto v1 = first->schema_version();
    REQUIRE(v1);
    CHECK(*v1 >= 1);
    CHECK(first->ping());
    auto second = open_or_fail(b.url);
    auto v2 = second->schema_version();
    REQUIRE(v2);
    CHECK(*v2 == *v1);
    // One row per migration (versions need not be contiguous: branches
    // number theirs in parallel).
    CHECK(migration_rows(b.url)
          == static_cast<long long>(store::migrations().size()));
    // Both sessions work on the same tables.
    REQUIRE(first->write_calls({make_call("1795299069.1")}));
    CHECK(count_rows(*second) == 1);
    CHECK(first->kind()
          == (b.label == "sqlite" ? store::backend::sqlite
                                  : store::backend::postgresql));
  });
}

TEST_CASE("write_calls stores every field and is idempotent per source") {
  for_each_backend("write_calls", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    auto alice = db->add_customer(
        {0, "Alice", "+44 20 7946 0123", "+442079460123", ""});
    REQUIRE(alice);
    std::vector<matched_call> batch;
    batch.push_back(make_call("1795299069.10", 1795299069, alice->id));
    batch.back().call.notes = "first call";
    auto missed = make_call("1795299070.20", 1795299070);
    missed.call.disposition = call_disposition::no_answer;
    missed.call.external_number = "anonymous";
    missed.call.extension = "";
    missed.call.duration_seconds = 20;
    missed.call.billsec = 0;
    missed.call.talk_seconds = 0;
    batch.push_back(missed);
    auto out = make_call("1795299071.30", 1795299071);
    out.call.direction = call_direction::outbound;
    out.call.external_number = "07700900456";
    batch.push_back(out);

    std::vector<write_outcome> outcomes;
    auto n = db->write_calls(batch, &outcomes);
    REQUIRE(n);
    CHECK(*n == 3);
    CHECK(outcomes == std::vector<write_outcome>(3, write_outcome::inserted));

    auto row = db->find_comms("ami", "1795299069.10");
    REQUIRE(row);
    REQUIRE(*row);
    auto& e = **row;
    CHECK(e.id > 0);
    CHECK(e.customer_id == alice->id);
    CHECK(e.type == "call");
    CHECK(e.direction == "inbound");
    CHECK(e.body == "Call duration: 10s\nfirst call");
    CHECK(e.source == "ami");
    CHECK(e.ext_message_id == "1795299069.10");
    CHECK(e.external_number == "+442079460123");
    CHECK(e.extension == "1001");
    CHECK(e.disposition == "answered");
    CHECK(e.duration_seconds == 10);
    CHECK(e.billsec == 7);
    CHECK(e.talk_seconds == 7);
    CHECK(e.occurred_at == "2026-11-21T22:11:09Z");
    CHECK(sb::parse_iso8601(e.created_at));

    auto anon = db->find_comms("ami", "1795299070.20");
    REQUIRE(anon);
    REQUIRE(*anon);
    CHECK_FALSE((*anon)->customer_id);
    CHECK((*anon)->disposition == "no_answer");
    CHECK((*anon)->body == "Call duration: 20s");

    // The same batch again (a replay, a re-send after an outage): nothing.
    auto again = db->write_calls(batch, &outcomes);
    REQUIRE(again);
    CHECK(*again == 0);
    CHECK(outcomes == std::vector<write_outcome>(3, write_outcome::duplicate));
    CHECK(count_rows(*db) == 3);

    // AMI keeps the first version of a call: a changed re-send is ignored.
    auto changed = batch[0];
    changed.call.duration_seconds = 99;
    REQUIRE(db->write_calls({changed}));
    CHECK((*db->find_comms("ami", "1795299069.10"))->duration_seconds == 10);

    // The same id from another source is another call.
    auto oz = make_call("1795299069.10", 1795299069, caf::none, "ozonetel");
    auto other = db->write_calls({oz});
    REQUIRE(other);
    CHECK(*other == 1);
    CHECK(count_rows(*db) == 4);

    // Duplicates inside one batch collapse too.
    auto dup
        = db->write_calls({make_call("dup.1"), make_call("dup.1")}, &outcomes);
    REQUIRE(dup);
    CHECK(*dup == 1);
    CHECK(count_rows(*db) == 5);
  });
}

TEST_CASE("a refused record fails the batch as a data error, not an outage") {
  for_each_backend("refused record", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    auto bogus = make_call("bogus.1");
    bogus.call.source = "carrier-pigeon"; // not a known source: CHECK fails
    auto res = db->write_calls({make_call("good.1"), bogus});
    REQUIRE_FALSE(res);
    CHECK(sb::code_of(res.error()) == sb::ec::rejected);
    CHECK_FALSE(store::is_unavailable(res.error()));
    // All or nothing: the good record was rolled back with the batch.
    CHECK(count_rows(*db) == 0);
    CHECK(db->ping());
  });
}

TEST_CASE("Ozonetel reports of one call merge into one complete row in "
          "either order") {
  for_each_backend("ozonetel merge", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    auto cust = db->add_customer(
        {0, "Priya", "+91 98765 43210", "+919876543210", ""});
    REQUIRE(cust);
    // The call-details callback knows the number, times and durations.
    auto callback = make_call("UCID-1", 1795299100, cust->id, "ozonetel");
    callback.call.external_number = "+919876543210";
    callback.call.extension = "";
    callback.call.ucid = "UCID-1";
    callback.call.disposition = call_disposition::answered;
    callback.call.duration_seconds = 130;
    callback.call.billsec = 120;
    callback.call.talk_seconds = 118;
    // The agent's disposition knows the agent, notes and little else.
    auto dispose = make_call("UCID-1", 0, caf::none, "ozonetel");
    dispose.call.external_number = "";
    dispose.call.extension = "agent-7";
    dispose.call.ucid = "UCID-1";
    dispose.call.disposition = call_disposition::no_answer;
    dispose.call.duration_seconds = 0;
    dispose.call.billsec = 0;
    dispose.call.talk_seconds = 0;
    dispose.call.notes = "Disposition: APPOINTMENT_BOOKED";

    std::vector<comms_entry> results;
    for (bool callback_first : {true, false}) {
      auto a = callback_first ? callback : dispose;
      auto z = callback_first ? dispose : callback;
      auto id = std::string{"UCID-"} + (callback_first ? "A" : "B");
      a.call.ext_message_id = z.call.ext_message_id = id;
      std::vector<write_outcome> outcomes;
      auto first = db->write_calls({a}, &outcomes);
      REQUIRE(first);
      CHECK(*first == 1);
      auto second = db->write_calls({z}, &outcomes);
      REQUIRE(second);
      CHECK(*second == 0);
      CHECK(outcomes.at(0) == write_outcome::merged);
      // A third report that adds nothing changes nothing.
      REQUIRE(db->write_calls({z}, &outcomes));
      CHECK(outcomes.at(0) == write_outcome::duplicate);
      auto row = db->find_comms("ozonetel", id);
      REQUIRE(row);
      REQUIRE(*row);
      results.push_back(**row);
    }
    CHECK(count_rows(*db) == 2);
    for (auto& e : results) {
      CHECK(e.customer_id == cust->id);
      CHECK(e.external_number == "+919876543210");
      CHECK(e.extension == "agent-7");
      CHECK(e.ucid == "UCID-1");
      CHECK(e.disposition == "answered");
      CHECK(e.duration_seconds == 130);
      CHECK(e.billsec == 120);
      CHECK(e.talk_seconds == 118);
      CHECK(e.occurred_at == sb::iso8601_utc(1795299100LL * 1000000));
      CHECK(e.body == "Call duration: 130s\nDisposition: APPOINTMENT_BOOKED");
    }
  });
}

TEST_CASE("manual entries honour the idempotency key") {
  for_each_backend("manual idempotency", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    auto cust
        = db->add_customer({0, "Bob", "07700 900123", "+447700900123", ""});
    REQUIRE(cust);
    comms_entry entry;
    entry.customer_id = cust->id;
    entry.direction = "outbound";
    entry.duration_seconds = 95;
    entry.body = store::call_body(95, "quoted the renewal");
    entry.occurred_at = "2026-11-21T10:00:00+01:00";
    bool replayed = true;
    auto first = db->insert_manual(entry, "key-123", &replayed);
    REQUIRE(first);
    CHECK_FALSE(replayed);
    CHECK(first->id > 0);
    CHECK(first->source == "manual");
    CHECK(first->type == "call");
    CHECK(first->occurred_at == "2026-11-21T09:00:00Z");
    CHECK(first->ext_message_id.empty());
    CHECK(sb::parse_iso8601(first->created_at));

    // The retried request (even with a different body) returns the first.
    auto retry_entry = entry;
    retry_entry.body = store::call_body(95, "retried");
    auto second = db->insert_manual(retry_entry, "key-123", &replayed);
    REQUIRE(second);
    CHECK(replayed);
    CHECK(second->id == first->id);
    CHECK(second->body == first->body);
    CHECK(count_rows(*db) == 1);

    // No key: every request is a new entry; manual entries never collide on
    // the (source, ext_message_id) constraint.
    REQUIRE(db->insert_manual(entry, ""));
    REQUIRE(db->insert_manual(entry, ""));
    auto other_key = db->insert_manual(entry, "key-456", &replayed);
    REQUIRE(other_key);
    CHECK_FALSE(replayed);
    CHECK(count_rows(*db) == 4);

    // A manual entry without occurred_at happens now.
    comms_entry now_entry = entry;
    now_entry.occurred_at.clear();
    auto now = db->insert_manual(now_entry, "");
    REQUIRE(now);
    CHECK(now->occurred_at == now->created_at);

    // Bad data is refused as data.
    auto bad = entry;
    bad.direction = "sideways";
    auto refused = db->insert_manual(bad, "key-789");
    REQUIRE_FALSE(refused);
    CHECK_FALSE(store::is_unavailable(refused.error()));
    // ... and the refused request did not burn its key.
    auto good = db->insert_manual(entry, "key-789", &replayed);
    REQUIRE(good);
    CHECK_FALSE(replayed);
    auto bad_time = entry;
    bad_time.occurred_at = "last tuesday";
    CHECK_FALSE(db->insert_manual(bad_time, ""));
  });
}

TEST_CASE("query_comms filters, orders newest first and pages by cursor") {
  for_each_backend("query_comms", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    auto alice = db->add_customer({0, "Alice", "", "+442079460123", ""});
    auto bob = db->add_customer({0, "Bob", "", "+447700900123", ""});
    REQUIRE(alice);
    REQUIRE(bob);
    // 30 calls; every third pair shares a start second, so ties on
    // occurred_at must be broken by id.
    std::vector<matched_call> calls;
    for (int i = 0; i < 30; ++i) {
      auto c
          = make_call("q." + std::to_string(i), 1795299000 + (i / 2) * 60,
                      i % 3 == 0 ? alice->id
                                 : (i % 3 == 1 ? caf::optional<int64_t>{bob->id}
                                               : caf::none));
      c.call.direction
          = i % 2 == 0 ? call_direction::inbound : call_direction::outbound;
      if (i % 5 == 0)
        c.call.disposition = call_disposition::no_answer;
      calls.push_back(c);
    }
    REQUIRE(db->write_calls(calls));
    comms_entry manual;
    manual.customer_id = alice->id;
    manual.direction = "inbound";
    manual.body = store::call_body(5, "");
    manual.duration_seconds = 5;
    manual.occurred_at = "2026-11-21T23:00:00Z";
    REQUIRE(db->insert_manual(manual, ""));

    comms_query all;
    all.limit = 500;
    auto everything = query(*db, all);
    REQUIRE(everything.size() == 31);
    for (size_t i = 1; i < everything.size(); ++i) {
      auto& newer = everything[i - 1];
      auto& older = everything[i];
      bool ordered
          = newer.occurred_at > older.occurred_at
            || (newer.occurred_at == older.occurred_at && newer.id > older.id);
      CHECK(ordered);
    }
    CHECK(everything.front().source == "manual");

    // Paging with the cursor visits every row once, in order.
    std::vector<int64_t> paged;
    comms_query page;
    page.limit = 7;
    for (int guard = 0; guard < 20; ++guard) {
      auto rows = query(*db, page);
      for (auto& r : rows)
        paged.push_back(r.id);
      if (rows.size() < 7)
        break;
      page.cursor_occurred_at = rows.back().occurred_at;
      page.cursor_id = rows.back().id;
    }
    std::vector<int64_t> expected;
    for (auto& r : everything)
      expected.push_back(r.id);
    CHECK(paged == expected);

    comms_query by_customer;
    by_customer.customer_id = alice->id;
    by_customer.limit = 500;
    auto alices = query(*db, by_customer);
    CHECK(alices.size() == 11); // 10 calls + the manual entry
    for (auto& r : alices)
      CHECK(r.customer_id == alice->id);

    comms_query outbound_ami;
    outbound_ami.direction = "outbound";
    outbound_ami.source = "ami";
    outbound_ami.type = "call";
    outbound_ami.limit = 500;
    auto outs = query(*db, outbound_ami);
    CHECK(outs.size() == 15);
    for (auto& r : outs)
      CHECK((r.direction == "outbound" && r.source == "ami"));

    comms_query missed;
    missed.disposition = "no_answer";
    missed.limit = 500;
    auto misses = query(*db, missed);
    CHECK(misses.size() == 6);
    for (auto& r : misses)
      CHECK(r.disposition == "no_answer");

    comms_query window;
    window.since = "2026-11-21T22:12:00Z"; // inclusive
    window.until = "2026-11-21T22:15:00Z"; // exclusive
    window.limit = 500;
    auto in_window = query(*db, window);
    // Starts at 22:12, 22:13, 22:14 (two calls each).
    CHECK(in_window.size() == 6);
    for (auto& r : in_window) {
      CHECK(r.occurred_at >= "2026-11-21T22:12:00Z");
      CHECK(r.occurred_at < "2026-11-21T22:15:00Z");
    }
    // Offsets are normalized to UTC before comparing.
    window.since = "2026-11-21T23:12:00+01:00";
    window.until = "2026-11-21T23:15:00+01:00";
    CHECK(query(*db, window).size() == 6);

    comms_query limited;
    limited.limit = 0; // clamped to at least one
    CHECK(query(*db, limited).size() == 1);
    limited.limit = 100000; // clamped to 500
    CHECK(query(*db, limited).size() == 31);

    comms_query bad;
    bad.since = "not a time";
    auto refused = db->query_comms(bad);
    REQUIRE_FALSE(refused);
    CHECK(sb::code_of(refused.error()) == sb::ec::rejected);
  });
}

TEST_CASE("customers: add, look up by number, list for the matcher") {
  for_each_backend("customers", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    auto a = db->add_customer(
        {0, "Alice", "+44 20 7946 0123", "+442079460123", ""});
    REQUIRE(a);
    CHECK(a->id > 0);
    CHECK(a->name == "Alice");
    CHECK(sb::parse_iso8601(a->created_at));
    auto many = db->add_customers(
        {{0, "Alice's office", "020 7946 0123", "+442079460123", ""},
         {0, "Nobody", "anonymous", "", ""},
         {0, "Raj", "+91 98765 43210", "+919876543210", ""}});
    REQUIRE(many);
    REQUIRE(many->size() == 3);
    CHECK((*many)[0].id > a->id);
    CHECK((*many)[2].id > (*many)[1].id);

    auto got = db->get_customer(a->id);
    REQUIRE(got);
    REQUIRE(*got);
    CHECK((*got)->phone == "+44 20 7946 0123");
    auto none = db->get_customer(999999);
    REQUIRE(none);
    CHECK_FALSE(*none);

    auto same_number = db->find_customers_by_e164("+442079460123");
    REQUIRE(same_number);
    REQUIRE(same_number->size() == 2);
    CHECK((*same_number)[0].id == a->id); // lowest id first
    auto empty = db->find_customers_by_e164("");
    REQUIRE(empty);
    CHECK(empty->empty());

    auto all = db->all_customers();
    REQUIRE(all);
    CHECK(all->size() == 3); // "Nobody" has no normalized number
    for (auto& c : *all)
      CHECK_FALSE(c.phone_e164.empty());
  });
}

TEST_CASE("large batches span several statements and keep per-record "
          "outcomes") {
  for_each_backend("large batches", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    std::vector<matched_call> first;
    for (int i = 0; i < 150; ++i)
      first.push_back(make_call("big." + std::to_string(i), 1795299000 + i));
    auto n = db->write_calls(first);
    REQUIRE(n);
    CHECK(*n == 150);
    // 50 already stored, 200 new, and one new id repeated at the end.
    std::vector<matched_call> second;
    for (int i = 100; i < 350; ++i)
      second.push_back(make_call("big." + std::to_string(i), 1795299000 + i));
    second.push_back(make_call("big.300", 1795299300));
    std::vector<write_outcome> outcomes;
    auto m = db->write_calls(second, &outcomes);
    REQUIRE(m);
    CHECK(*m == 200);
    REQUIRE(outcomes.size() == 251);
    for (size_t i = 0; i < 251; ++i) {
      INFO("record " << i);
      auto expected = i < 50 || i == 250 ? write_outcome::duplicate
                                         : write_outcome::inserted;
      CHECK(outcomes[i] == expected);
    }
    CHECK(count_rows(*db) == 350);
    auto row = db->find_comms("ami", "big.349");
    REQUIRE(row);
    REQUIRE(*row);
    CHECK((*row)->occurred_at == sb::iso8601_utc(1795299349LL * 1000000));
  });
}
