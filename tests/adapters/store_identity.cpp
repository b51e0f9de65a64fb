// A comms-log entry's identity is (source, origin, ext_message_id): two PBXes
// that count Linkedids alike give two rows, in either order. The migration
// to that key (schema version 3) keeps the rows written before it, on SQLite
// and PostgreSQL. recovered, recording and recording_url are stored columns.

#include "adapters/store/migrations.hpp"
#include "tests/fixtures/store_support.hpp"

#include <memory>
#include <utility>

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

/// A database at schema version 2, as switchboard left it before the
/// identity included the origin: an AMI row of a named PBX, one from before
/// origins were recorded, an Ozonetel and a manual row.
void create_version_2(const backend_case& b) {
  auto s = raw_session(b);
  *s << "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL, applied_at TEXT NOT NULL)";
  for (const auto& m : store::migrations()) {
    if (m.version > 2)
      break;
    for (const auto* statement : m.statements)
      *s << store::dialect(statement, kind_of(b));
    int v = m.version;
    std::string name = m.name;
    *s << "INSERT INTO schema_migrations (version, name, applied_at)"
          " VALUES (:v, :n, '2026-11-01T00:00:00Z')",
        soci::use(v), soci::use(name);
  }
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
  for_each_backend("migration 3", [](const backend_case& b) {
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
