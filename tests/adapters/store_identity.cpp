// A comms-log entry's identity is (source, origin, ext_message_id): two PBXes
// that count Linkedids alike give two rows, in either order. The migration
// to that key (schema version 8) keeps the rows and columns written before
// it, on SQLite and PostgreSQL, from version 2 and from version 6 (the
// schema before it). recovered, recording and recording_url are stored
// columns.

#include "adapters/store/migrations.hpp"
#include "tests/fixtures/store_support.hpp"

#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace sb;
using namespace sb::test;
using store::write_outcome;

namespace {

std::unique_ptr<soci::session> raw_session(const backend_case& b) {
  if (b.label == "sqlite")
    return std::make_unique<soci::session>(soci::sqlite3, b.url.substr(7));
  return std::make_unique<soci::session>(soci::postgresql, soci_pg(b.url));
}

store::backend kind_of(const backend_case& b) {
  return b.label == "sqlite" ? store::backend::sqlite
                             : store::backend::postgresql;
}

/// A database migrated to `last` (and no further) the way switchboard's
/// migration runner does it.
std::unique_ptr<soci::session> create_at_version(const backend_case& b,
                                                 int last) {
  auto s = raw_session(b);
  auto kind = kind_of(b);
  *s << "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL, applied_at TEXT NOT NULL)";
  for (const auto& m : store::migrations()) {
    if (m.version > last)
      break;
    for (const auto* statement : m.statements)
      *s << store::dialect(statement, kind);
    for (const auto& add : m.add_if_missing)
      *s << std::string{"ALTER TABLE "} + add.table + " ADD COLUMN "
                + add.column + " " + add.definition;
    for (const auto* statement :
         kind == store::backend::sqlite ? m.sqlite_only : m.postgresql_only)
      *s << statement;
    int v = m.version;
    std::string name = m.name;
    *s << "INSERT INTO schema_migrations (version, name, applied_at)"
          " VALUES (:v, :n, '2026-11-01T00:00:00Z')",
        soci::use(v), soci::use(name);
  }
  return s;
}

/// A database at schema version 2, as switchboard left it before the
/// identity included the origin: an AMI row of a named PBX, one from before
/// origins were recorded, an Ozonetel and a manual row.
void create_version_2(const backend_case& b) {
  auto s = create_at_version(b, 2);
  for (auto [source, ext, origin] :
       {std::tuple<std::string, std::string, std::string>{
            "ami", "1795298998.0", "pbx-a"},
        {"ami", "1795298990.0", ""},
        {"ozonetel", "UCID-OLD", "acme"}}) {
    *s << "INSERT INTO crm_comms_log (customer_id, type, direction, body,"
          " source, ext_message_id, external_number, extension,"
          " disposition, duration_seconds, billsec, talk_seconds, ucid,"
          " occurred_at, created_at, origin, incomplete) VALUES (NULL,"
          " 'call', 'inbound', 'Call duration: 11s', :source, :ext,"
          " '+442079460123', '1001', 'answered', 11, 7, 7, '',"
          " '2026-11-21T22:09:58Z', '2026-11-21T22:10:10Z', :origin, 0)",
        soci::use(source), soci::use(ext), soci::use(origin);
  }
  *s << "INSERT INTO crm_comms_log (type, direction, body, source,"
        " occurred_at, created_at, origin) VALUES ('call', 'outbound',"
        " 'Call duration: 5s', 'manual', '2026-11-21T22:00:00Z',"
        " '2026-11-21T22:00:00Z', 'manual')";
}

matched_call from_pbx(const std::string& pbx, const std::string& linkedid,
                      int64_t duration) {
  auto m = make_call(linkedid);
  m.call.origin = pbx;
  m.call.duration_seconds = duration;
  return m;
}

comms_entry found(store::database& db, const std::string& origin,
                  const std::string& linkedid) {
  auto row = db.find_comms("ami", origin, linkedid);
  REQUIRE(row);
  REQUIRE(*row);
  return **row;
}

/// The names of crm_comms_log's indexes, sorted (the unique key's own index
/// left out).
std::vector<std::string> comms_indexes(const backend_case& b) {
  auto s = raw_session(b);
  std::vector<std::string> names(16);
  if (kind_of(b) == store::backend::sqlite)
    *s << "SELECT name FROM sqlite_master WHERE type = 'index' AND"
          " tbl_name = 'crm_comms_log' AND name NOT LIKE 'sqlite_%'"
          " ORDER BY name",
        soci::into(names);
  else
    *s << "SELECT indexname FROM pg_indexes WHERE tablename ="
          " 'crm_comms_log' AND indexname NOT LIKE '%key' AND"
          " indexname <> 'crm_comms_log_identity' ORDER BY indexname",
        soci::into(names);
  return names;
}

} // namespace

TEST_CASE("two PBXes with the same Linkedid give two rows, in either order",
          "[store][identity]") {
  for_each_backend("identity", [](const backend_case& b) {
    for (bool a_first : {true, false}) {
      INFO((a_first ? "pbx-a first" : "pbx-b first"));
      auto db = open_or_fail(b.url);
      auto linkedid = a_first ? "1795299131.21" : "1795299131.22";
      auto a = from_pbx("pbx-a", linkedid, 30);
      auto z = from_pbx("pbx-b", linkedid, 40);
      std::vector<write_outcome> outcomes;
      // One batch: both rows in one multi-row INSERT.
      auto n = db->write_calls(a_first ? std::vector<matched_call>{a, z}
                                       : std::vector<matched_call>{z, a},
                               &outcomes);
      REQUIRE(n);
      CHECK(*n == 2);
      CHECK(outcomes
            == std::vector<write_outcome>{write_outcome::inserted,
                                          write_outcome::inserted});
      // Again, each alone: a duplicate of its own PBX's row only.
      for (const auto& m : {a, z}) {
        auto again = db->write_calls({m}, &outcomes);
        REQUIRE(again);
        CHECK(*again == 0);
        CHECK(outcomes.at(0) == write_outcome::duplicate);
      }
      auto row_a = found(*db, "pbx-a", linkedid);
      auto row_b = found(*db, "pbx-b", linkedid);
      CHECK(row_a.duration_seconds == 30);
      CHECK(row_b.duration_seconds == 40);
      CHECK(row_a.id != row_b.id);
    }
    // In separate transactions, second PBX after the first: still two.
    auto db = open_or_fail(b.url);
    auto first = db->write_calls({from_pbx("pbx-b", "1795299131.23", 5)});
    auto second = db->write_calls({from_pbx("pbx-a", "1795299131.23", 6)});
    REQUIRE(first);
    REQUIRE(second);
    CHECK(*first + *second == 2);
    CHECK(found(*db, "pbx-a", "1795299131.23").duration_seconds == 6);
    CHECK(found(*db, "pbx-b", "1795299131.23").duration_seconds == 5);
  });
}

TEST_CASE("recovered, recording and recording_url are stored and read back",
          "[store][identity]") {
  for_each_backend("columns", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    auto live = from_pbx("pbx-a", "1795299131.30", 9);
    auto rebuilt = from_pbx("pbx-a", "1795299131.31", 12);
    rebuilt.call.recovered = "cdr";
    rebuilt.call.recording = "2026/12/01/in-1001-1795299131.31.wav";
    rebuilt.call.recording_url
        = "https://pbx/rec/2026/12/01/in-1001-1795299131.31.wav";
    REQUIRE(db->write_calls({live, rebuilt}));
    auto x = found(*db, "pbx-a", "1795299131.30");
    auto y = found(*db, "pbx-a", "1795299131.31");
    CHECK(x.recovered.empty());
    CHECK(x.recording.empty());
    CHECK(x.recording_url.empty());
    CHECK(y.recovered == "cdr");
    CHECK(y.recording == "2026/12/01/in-1001-1795299131.31.wav");
    CHECK(y.recording_url
          == "https://pbx/rec/2026/12/01/in-1001-1795299131.31.wav");
    CHECK(y.body == "Call duration: 12s");
    auto rows = db->query_comms(comms_query{});
    REQUIRE(rows);
    REQUIRE(rows->size() == 2);
    CHECK(rows->at(0).recovered == "cdr"); // newest first: .31 then .30
  });
}

TEST_CASE("a database at schema version 2 keeps its rows under the new "
          "identity",
          "[store][identity][migration]") {
  for_each_backend("migration from 2", [](const backend_case& b) {
    create_version_2(b);
    auto db = open_or_fail(b.url);
    auto version = db->schema_version();
    REQUIRE(version);
    CHECK(*version == store::latest_version());
    auto n = db->count_comms();
    REQUIRE(n);
    CHECK(*n == 4);
    auto named = found(*db, "pbx-a", "1795298998.0");
    CHECK(named.id == 1);
    CHECK(named.billsec == 7);
    CHECK(named.body == "Call duration: 11s");
    CHECK(named.recovered.empty());
    CHECK(named.recording.empty());
    CHECK(found(*db, "", "1795298990.0").id == 2);
    auto oz = db->find_comms("ozonetel", "acme", "UCID-OLD");
    REQUIRE(oz);
    REQUIRE(*oz);
    CHECK((*oz)->origin == "acme");
    comms_query q;
    q.source = "manual";
    auto manual = db->query_comms(q);
    REQUIRE(manual);
    REQUIRE(manual->size() == 1);
    CHECK(manual->front().origin == "manual");

    // The new key: the same Linkedid from another PBX is a new row, from
    // the same PBX a duplicate; ids keep counting after the old ones.
    std::vector<write_outcome> outcomes;
    auto written = db->write_calls({from_pbx("pbx-b", "1795298998.0", 3),
                                    from_pbx("pbx-a", "1795298998.0", 3)},
                                   &outcomes);
    REQUIRE(written);
    CHECK(*written == 1);
    CHECK(outcomes
          == std::vector<write_outcome>{write_outcome::inserted,
                                        write_outcome::duplicate});
    CHECK(found(*db, "pbx-b", "1795298998.0").id > 4);
    auto m = db->insert_manual(manual->front(), "after-migration");
    REQUIRE(m);
    CHECK(m->id > 5);

    // Opening again migrates nothing more.
    auto reopened = open_or_fail(b.url);
    auto again = reopened->schema_version();
    REQUIRE(again);
    CHECK(*again == *version);
  });
}

TEST_CASE("a database at schema version 6 keeps every row and column under "
          "the new identity",
          "[store][identity][migration]") {
  for_each_backend("migration from 6", [](const backend_case& b) {
    {
      auto s = create_at_version(b, 6);
      *s << "INSERT INTO crm_comms_log (customer_id, type, direction, body,"
            " source, ext_message_id, external_number, extension,"
            " disposition, duration_seconds, billsec, talk_seconds, ucid,"
            " occurred_at, created_at, origin, incomplete, updated_at,"
            " external_e164, crm_ref, recording) VALUES (NULL, 'call',"
            " 'inbound', 'Call duration: 11s', 'ami', '1795298998.0',"
            " '+442079460123', '1001', 'answered', 11, 7, 6, '',"
            " '2026-11-21T22:09:58Z', '2026-11-21T22:10:10Z', 'pbx-a', 1,"
            " '2026-11-22T08:00:00Z', '+442079460123', 'LEAD-7', '')";
      *s << "INSERT INTO crm_comms_log (type, direction, body, source,"
            " ext_message_id, external_number, occurred_at, created_at,"
            " origin, updated_at, recording, ucid) VALUES ('call',"
            " 'outbound', 'Call duration: 4s', 'ozonetel', 'UCID-9',"
            " '+919812345678', '2026-11-21T23:00:00Z',"
            " '2026-11-21T23:00:05Z', 'acme', '2026-11-21T23:00:05Z',"
            " 'https://rec.example/UCID-9.mp3', 'UCID-9')";
      *s << "INSERT INTO crm_comms_log (type, direction, body, source,"
            " ext_message_id, occurred_at, created_at, origin, updated_at,"
            " recording) VALUES ('call', 'outbound', 'Call duration: 4s',"
            " 'ozonetel', 'UCID-10', '2026-11-21T23:00:00Z',"
            " '2026-11-21T23:00:05Z', 'acme', '2026-11-21T23:00:05Z',"
            " 'https://rec.example/UCID-10.mp3')";
      // A deleted row leaves a hole in the ids: the copy keeps it.
      *s << "DELETE FROM crm_comms_log WHERE ext_message_id = 'UCID-9'";
    }
    auto before = comms_indexes(b);
    auto db = open_or_fail(b.url);
    auto version = db->schema_version();
    REQUIRE(version);
    CHECK(*version == store::latest_version());
    auto n = db->count_comms();
    REQUIRE(n);
    CHECK(*n == 2);
    auto named = found(*db, "pbx-a", "1795298998.0");
    CHECK(named.id == 1);
    CHECK(named.talk_seconds == 6);
    CHECK(named.incomplete);
    CHECK(named.updated_at == "2026-11-22T08:00:00Z");
    CHECK(named.external_e164 == "+442079460123");
    CHECK(named.crm_ref == "LEAD-7");
    CHECK(named.recovered.empty());
    CHECK(named.recording_url.empty());
    auto oz = db->find_comms("ozonetel", "acme", "UCID-10");
    REQUIRE(oz);
    REQUIRE(*oz);
    CHECK((*oz)->id == 3);
    CHECK((*oz)->recording == "https://rec.example/UCID-10.mp3");
    // The indexes of the versions before (the CRM sync's among them).
    CHECK(comms_indexes(b) == before);
    CHECK(before.size() == 4);
    comms_query q;
    q.updated_since = "2026-11-22T00:00:00Z";
    auto synced = db->query_comms(q);
    REQUIRE(synced);
    REQUIRE(synced->size() == 1);
    CHECK(synced->front().id == 1);

    std::vector<write_outcome> outcomes;
    auto written = db->write_calls({from_pbx("pbx-b", "1795298998.0", 3),
                                    from_pbx("pbx-a", "1795298998.0", 3)},
                                   &outcomes);
    REQUIRE(written);
    CHECK(*written == 1);
    CHECK(outcomes
          == std::vector<write_outcome>{write_outcome::inserted,
                                        write_outcome::duplicate});
    CHECK(found(*db, "pbx-b", "1795298998.0").id == 4);
  });
}

TEST_CASE("the identity migration over a table that has its columns already "
          "keeps their values",
          "[store][identity][migration]") {
  // Early builds of it ran as version 3, before 5 and 6.
  for_each_backend("migration again", [](const backend_case& b) {
    {
      auto s = create_at_version(b, 6);
      *s << "ALTER TABLE crm_comms_log ADD COLUMN recovered TEXT NOT NULL"
            " DEFAULT ''";
      *s << "ALTER TABLE crm_comms_log ADD COLUMN recording_url TEXT NOT"
            " NULL DEFAULT ''";
      if (kind_of(b) == store::backend::postgresql) {
        *s << "ALTER TABLE crm_comms_log DROP CONSTRAINT"
              " crm_comms_log_source_ext_message_id_key";
        *s << "ALTER TABLE crm_comms_log ADD CONSTRAINT"
              " crm_comms_log_identity UNIQUE (source, origin,"
              " ext_message_id)";
      }
      *s << "INSERT INTO crm_comms_log (type, direction, body, source,"
            " ext_message_id, occurred_at, created_at, origin, updated_at,"
            " recovered, recording, recording_url) VALUES ('call',"
            " 'inbound', 'Call duration: 9s', 'ami', '1795298998.0',"
            " '2026-11-21T22:09:58Z', '2026-11-21T22:10:10Z', 'pbx-a',"
            " '2026-11-21T22:10:10Z', 'cdr', 'in-1001.wav',"
            " 'https://pbx/rec/in-1001.wav')";
    }
    auto db = open_or_fail(b.url);
    auto version = db->schema_version();
    REQUIRE(version);
    CHECK(*version == store::latest_version());
    auto row = found(*db, "pbx-a", "1795298998.0");
    CHECK(row.recovered == "cdr");
    CHECK(row.recording == "in-1001.wav");
    CHECK(row.recording_url == "https://pbx/rec/in-1001.wav");
    auto written = db->write_calls({from_pbx("pbx-b", "1795298998.0", 3)});
    REQUIRE(written);
    CHECK(*written == 1);
  });
}
