// A call not seen from start to end is stored flagged `incomplete`, with the
// PBX it came from (`origin`), and its body says what is unknown; a database
// at the previous schema version keeps its rows and gains both columns. On
// SQLite and PostgreSQL.

#include "adapters/store/migrations.hpp"
#include "domain/comms_merge.hpp"
#include "tests/fixtures/store_support.hpp"

#include <memory>
#include <utility>

using namespace sb;
using namespace sb::test;
using store::write_outcome;

namespace {

comms_entry found(store::database& db, const std::string& source,
                  const std::string& ext_message_id) {
  auto row = db.find_comms(source, ext_message_id);
  REQUIRE(row);
  REQUIRE(*row);
  return **row;
}

std::unique_ptr<soci::session> raw_session(const backend_case& b) {
  if (b.label == "sqlite")
    return std::make_unique<soci::session>(soci::sqlite3, b.url.substr(7));
  return std::make_unique<soci::session>(soci::postgresql, soci_pg(b.url));
}

store::backend kind_of(const backend_case& b) {
  return b.label == "sqlite" ? store::backend::sqlite
                             : store::backend::postgresql;
}

/// A database at schema version 1, as switchboard left it before the
/// incomplete and origin columns, holding an AMI, an Ozonetel and a manual
/// row.
void create_version_1(const backend_case& b) {
  auto s = raw_session(b);
  const auto& first = store::migrations().at(0);
  REQUIRE(first.version == 1);
  for (const auto* statement : first.statements)
    *s << store::dialect(statement, kind_of(b));
  *s << "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL, applied_at TEXT NOT NULL)";
  *s << "INSERT INTO schema_migrations (version, name, applied_at)"
        " VALUES (1, 'customers and comms log', '2026-11-01T00:00:00Z')";
  for (auto [source, ext] :
       {std::pair<std::string, std::string>{"ami", "1795298998.0"},
        {"ozonetel", "UCID-OLD"}}) {
    *s << "INSERT INTO crm_comms_log (customer_id, type, direction, body,"
          " source, ext_message_id, external_number, extension,"
          " disposition, duration_seconds, billsec, talk_seconds, ucid,"
          " occurred_at, created_at) VALUES (NULL, 'call', 'inbound',"
          " 'Call duration: 11s', :source, :ext, '+442079460123', '1001',"
          " 'answered', 11, 7, 7, '', '2026-11-21T22:09:58Z',"
          " '2026-11-21T22:10:10Z')",
        soci::use(source), soci::use(ext);
  }
  *s << "INSERT INTO crm_comms_log (type, direction, body, source,"
        " occurred_at, created_at) VALUES ('call', 'outbound',"
        " 'Call duration: 5s', 'manual', '2026-11-21T22:00:00Z',"
        " '2026-11-21T22:00:00Z')";
}

} // namespace

TEST_CASE("an incomplete call's body says its duration is not known exactly",
          "[store][incomplete]") {
  CHECK(incomplete_call_body(0, "")
        == "Call duration: unknown (the call was not seen from start to end)");
  CHECK(incomplete_call_body(42, "Disposition: CALLBACK")
        == "Call duration: at least 42s (the call was not seen from start to "
           "end)\nDisposition: CALLBACK");
  CHECK(body_notes(incomplete_call_body(42, "a\nb")) == "a\nb");
  CHECK(entry_body(false, 42, "") == call_body(42, ""));
  CHECK(entry_body(true, 42, "") == incomplete_call_body(42, ""));
}

TEST_CASE("an incomplete call is stored flagged, with its origin, and read "
          "back so",
          "[store][incomplete]") {
  for_each_backend("incomplete stored", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    // Cut when the AMI connection dropped: only its ringing was seen.
    auto lost = make_call("1795299131.30");
    lost.call.origin = "pbx-a";
    lost.call.incomplete = true;
    lost.call.disposition = call_disposition::no_answer;
    lost.call.answered_at = 0;
    lost.call.ended_at = 0;
    lost.call.duration_seconds = 0;
    lost.call.billsec = 0;
    lost.call.talk_seconds = 0;
    // Finalized at the maximum age: timed up to then.
    auto stale = make_call("1795299131.31");
    stale.call.origin = "pbx-b";
    stale.call.incomplete = true;
    stale.call.notes = "never hung up";
    auto whole = make_call("1795299131.32");
    std::vector<write_outcome> outcomes;
    auto n = db->write_calls({lost, stale, whole}, &outcomes);
    REQUIRE(n);
    CHECK(*n == 3);

    auto x = found(*db, "ami", "1795299131.30");
    CHECK(x.incomplete);
    CHECK(x.origin == "pbx-a");
    CHECK(x.duration_seconds == 0);
    CHECK(x.body
          == "Call duration: unknown (the call was not seen from start to "
             "end)");
    CHECK(x.body.find("0s") == std::string::npos);
    auto y = found(*db, "ami", "1795299131.31");
    CHECK(y.incomplete);
    CHECK(y.origin == "pbx-b");
    CHECK(y.duration_seconds == 10);
    CHECK(y.body
          == "Call duration: at least 10s (the call was not seen from start "
             "to end)\nnever hung up");
    auto z = found(*db, "ami", "1795299131.32");
    CHECK_FALSE(z.incomplete);
    CHECK(z.origin == "test-pbx");
    CHECK(z.body == "Call duration: 10s");

    // Listed the same way (GET /api/crm/comms reads through query_comms).
    auto rows = db->query_comms(comms_query{});
    REQUIRE(rows);
    REQUIRE(rows->size() == 3);
    int flagged = 0;
    for (const auto& e : *rows)
      flagged += e.incomplete ? 1 : 0;
    CHECK(flagged == 2);

    // Written again (a re-send after an outage): still one flagged row.
    REQUIRE(db->write_calls({lost}, &outcomes));
    CHECK(outcomes.at(0) == write_outcome::duplicate);
    CHECK(found(*db, "ami", "1795299131.30").incomplete);

    // A manual entry is never incomplete and its origin is `manual`.
    comms_entry manual;
    manual.direction = "outbound";
    manual.duration_seconds = 5;
    manual.body = call_body(5, "");
    manual.incomplete = true;
    auto m = db->insert_manual(manual, "");
    REQUIRE(m);
    CHECK_FALSE(m->incomplete);
    CHECK(m->origin == "manual");
    comms_query q;
    q.source = "manual";
    auto listed = db->query_comms(q);
    REQUIRE(listed);
    REQUIRE(listed->size() == 1);
    CHECK_FALSE(listed->front().incomplete);
    CHECK(listed->front().origin == "manual");
  });
}

TEST_CASE("an Ozonetel report that saw the call through completes an "
          "incomplete entry, in either order",
          "[store][incomplete]") {
  for_each_backend("incomplete merge", [](const backend_case& b) {
    auto db = open_or_fail(b.url);
    // Swept at CloudAgent's maximum call age: timed up to the sweep.
    auto swept = make_call("", 1795299100, caf::none, "ozonetel");
    swept.call.origin = "acct-1";
    swept.call.incomplete = true;
    swept.call.duration_seconds = 3600;
    // The late call-details callback knows the real figures.
    auto callback = make_call("", 1795299100, caf::none, "ozonetel");
    callback.call.origin = "acct-1";
    callback.call.duration_seconds = 130;
    callback.call.billsec = 120;
    callback.call.talk_seconds = 118;
    callback.call.notes = "Disposition: APPOINTMENT_BOOKED";
    for (bool swept_first : {true, false}) {
      INFO((swept_first ? "swept first" : "callback first"));
      auto id = std::string{"UCID-"} + (swept_first ? "A" : "B");
      auto a = swept_first ? swept : callback;
      auto z = swept_first ? callback : swept;
      a.call.ext_message_id = z.call.ext_message_id = id;
      std::vector<write_outcome> outcomes;
      REQUIRE(db->write_calls({a}, &outcomes));
      CHECK(outcomes.at(0) == write_outcome::inserted);
      CHECK(found(*db, "ozonetel", id).incomplete == swept_first);
      REQUIRE(db->write_calls({z}, &outcomes));
      auto e = found(*db, "ozonetel", id);
      CHECK_FALSE(e.incomplete);
      CHECK(e.origin == "acct-1");
      CHECK(e.body.rfind("Call duration: ", 0) == 0);
      CHECK(e.body.find("not seen") == std::string::npos);
      CHECK(e.body.find("Disposition: APPOINTMENT_BOOKED")
            != std::string::npos);
      // Either way the callback's figures stand, not the sweep's guess.
      CHECK(
          outcomes.at(0)
          == (swept_first ? write_outcome::merged : write_outcome::duplicate));
      CHECK(e.duration_seconds == 130);
      CHECK(e.billsec == 120);
      CHECK(e.talk_seconds == 118);
      CHECK(e.body == "Call duration: 130s\nDisposition: APPOINTMENT_BOOKED");
    }
  });
}

TEST_CASE("a database at schema version 1 keeps its rows and gains the "
          "incomplete and origin columns",
          "[store][incomplete][migration]") {
  for_each_backend("migration 2", [](const backend_case& b) {
    create_version_1(b);
    auto db = open_or_fail(b.url);
    auto version = db->schema_version();
    REQUIRE(version);
    CHECK(*version == store::latest_version());
    CHECK(*version >= 2);
    auto n = db->count_comms();
    REQUIRE(n);
    CHECK(*n == 3);
    for (const char* source : {"ami", "ozonetel"}) {
      INFO("source " << source);
      auto e
          = found(*db, source,
                  std::string{source} == "ami" ? "1795298998.0" : "UCID-OLD");
      CHECK_FALSE(e.incomplete);
      CHECK(e.origin.empty()); // its PBX was never recorded
      CHECK(e.duration_seconds == 11);
      CHECK(e.billsec == 7);
      CHECK(e.talk_seconds == 7);
      CHECK(e.extension == "1001");
      CHECK(e.occurred_at == "2026-11-21T22:09:58Z");
      CHECK(e.body == "Call duration: 11s");
    }
    comms_query q;
    q.source = "manual";
    auto manual = db->query_comms(q);
    REQUIRE(manual);
    REQUIRE(manual->size() == 1);
    CHECK(manual->front().origin == "manual");
    CHECK_FALSE(manual->front().incomplete);

    // The old rows keep their identity; new ones take the new columns, and
    // ids keep counting after the old ones.
    auto again = make_call("1795298998.0");
    again.call.origin = ""; // the identity the old row was written with
    auto lost = make_call("1795299131.40");
    lost.call.incomplete = true;
    std::vector<write_outcome> outcomes;
    auto written = db->write_calls({again, lost}, &outcomes);
    REQUIRE(written);
    CHECK(*written == 1);
    CHECK(outcomes
          == std::vector<write_outcome>{write_outcome::duplicate,
                                        write_outcome::inserted});
    auto e = found(*db, "ami", "1795299131.40");
    CHECK(e.incomplete);
    CHECK(e.origin == "test-pbx");
    CHECK(e.id > 3);

    // Opening again migrates nothing more.
    auto reopened = open_or_fail(b.url);
    auto v2 = reopened->schema_version();
    REQUIRE(v2);
    CHECK(*v2 == *version);
    long long recorded = 0;
    *raw_session(b) << "SELECT COUNT(*) FROM schema_migrations",
        soci::into(recorded);
    CHECK(recorded == static_cast<long long>(store::migrations().size()));
  });
}
