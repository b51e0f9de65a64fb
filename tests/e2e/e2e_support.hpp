#pragma once

// What the end-to-end tests share: the database backends under test, CRM
// customers seeded from a scenario's numbers (written the way people type
// them, not the way the PBX presents them), and the row-by-row comparison of
// the comms log with a scenario's expected.json.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adapters/phone/normalizer.hpp"
#include "adapters/store/database.hpp"
#include "tests/fixtures/ami_server.hpp"
#include "tests/fixtures/capture.hpp"
#include "tests/fixtures/e2e_harness.hpp"

namespace sb::e2e {

/// One database under test and what keeps it alive.
struct backend {
  std::string label;
  std::string url;
  /// Where this backend's spool files go.
  std::string dir_file(const std::string& name) const {
    return dir->file(name);
  }
  std::shared_ptr<test::scratch_dir> dir;
  std::shared_ptr<test::pg_scratch_database> pg;
};

inline backend sqlite_backend() {
  backend b;
  b.label = "sqlite";
  b.dir = std::make_shared<test::scratch_dir>("sb-e2e");
  b.url = "sqlite:" + b.dir->file("crm.db");
  return b;
}

/// Whether SB_TEST_PG_URL names a test PostgreSQL server; when not, a
/// visible warning names the skipped test and why.
inline bool postgres_available_or_warn(const char* what) {
  if (!test::test_pg_url().empty())
    return true;
  WARN("PostgreSQL end-to-end test '"
       << what
       << "' SKIPPED: SB_TEST_PG_URL is not set (run through "
          "tests/with-postgres.sh, which starts a throw-away PostgreSQL on "
          "127.0.0.1)");
  // Counted as a pass under `--warn NoAssertions`: the warning above says
  // what did not run.
  SUCCEED("PostgreSQL not available: skipped");
  return false;
}

/// A fresh, empty database on the test PostgreSQL server.
inline backend postgres_backend() {
  backend b;
  b.label = "postgresql";
  b.dir = std::make_shared<test::scratch_dir>("sb-e2e-pg");
  b.pg = std::make_shared<test::pg_scratch_database>("sb_e2e");
  b.url = b.pg->url();
  return b;
}

/// Info logs of every server start drown a test's output: warnings and up
/// unless SB_TEST_LOG_LEVEL says otherwise.
inline void quiet_logs() {
  auto lvl = log::level::warning;
  if (auto* wanted = std::getenv("SB_TEST_LOG_LEVEL"))
    log::parse_level(wanted, lvl);
  log::set_level(lvl);
}

inline std::unique_ptr<store::database> open_db(const std::string& url) {
  auto db = store::database::open(url);
  if (!db)
    FAIL("cannot open " << store::redact_url(url) << ": "
                        << caf::to_string(db.error()));
  return std::move(*db);
}

inline int64_t count_rows(store::database& db) {
  auto n = db.count_comms();
  return n ? *n : -1;
}

// -- customers ---------------------------------------------------------------

/// The UK national significant number grouped as people write it:
/// "20 7946 0123", "7700 900123", "161 496 0030".
inline std::string uk_grouped(const std::string& nsn) {
  if (nsn.size() != 10)
    return nsn;
  if (nsn.compare(0, 2, "20") == 0)
    return nsn.substr(0, 2) + " " + nsn.substr(2, 4) + " " + nsn.substr(6);
  if (nsn[0] == '7')
    return nsn.substr(0, 4) + " " + nsn.substr(4);
  return nsn.substr(0, 3) + " " + nsn.substr(3, 3) + " " + nsn.substr(6);
}

inline std::string digits_of(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c >= '0' && c <= '9')
      out += c;
  return out;
}

/// How a CRM user would have typed the number the PBX presents: the same
/// number in another format ("+442079460123" -> "020 7946 0123",
/// "07700900123" -> "+44 7700 900123", "00442079460456" -> "+44 20 7946
/// 0456", "+1-555-010-0199" -> "001 (555) 010-0199"). Empty for numbers no
/// customer has in these tests: anonymous callers, extensions, and bare
/// 10-digit numbers (2079460789 is London in region GB but Maine to a NANP
/// dial plan, as the recording PBX treats it).
inline std::string crm_written(const std::string& pbx_number) {
  auto d = digits_of(pbx_number);
  if (d.size() < 10 || pbx_number.empty())
    return {};
  if (pbx_number.compare(0, 3, "+44") == 0)
    return "0" + uk_grouped(d.substr(2));
  if (pbx_number.compare(0, 4, "0044") == 0)
    return "+44 " + uk_grouped(d.substr(4));
  if (pbx_number.compare(0, 2, "+1") == 0 && d.size() == 11)
    return "001 (" + d.substr(1, 3) + ") " + d.substr(4, 3) + "-" + d.substr(7);
  if (pbx_number.compare(0, 2, "00") == 0)
    return "+" + d.substr(2);
  if (pbx_number[0] == '0' && d.size() == 11)
    return "+44 " + uk_grouped(d.substr(1));
  return {};
}

/// Customer id per PBX-presented number.
using customer_ids = std::map<std::string, int64_t>;

/// Seeds, through the database, one customer per outside number of the
/// scenario that crm_written() can spell differently, plus decoys that must
/// never match: a neighbouring number, a customer whose phone is
/// "anonymous", one whose phone is an extension.
inline customer_ids seed_customers(store::database& db,
                                   const test::expected_scenario& scenario) {
  phone::normalizer numbers{"GB"};
  auto add = [&](const std::string& name, const std::string& phone) {
    customer c;
    c.name = name;
    c.phone = phone;
    c.phone_e164 = numbers.to_e164(phone);
    auto added = db.add_customer(c);
    if (!added)
      FAIL("cannot seed customer " << phone << ": "
                                   << caf::to_string(added.error()));
    return added->id;
  };
  add("Decoy Neighbour", "020 7946 0124");
  add("Withheld Person", "anonymous");
  add("Front Desk", "1001");
  customer_ids ids;
  int n = 0;
  for (auto& call : scenario.calls) {
    if (call.direction == call_direction::internal
        || ids.count(call.external_number) > 0)
      continue;
    auto written = crm_written(call.external_number);
    if (written.empty())
      continue;
    ids[call.external_number] = add("Customer " + std::to_string(++n), written);
  }
  return ids;
}

// -- rows
// ----------------------------------------------------------------------

inline caf::optional<int64_t> expected_customer(const test::expected_call& call,
                                                const customer_ids& ids) {
  if (call.direction == call_direction::internal)
    return caf::none;
  auto i = ids.find(call.external_number);
  if (i == ids.end())
    return caf::none;
  return i->second;
}

inline int64_t distance(int64_t a, int64_t b) {
  return a > b ? a - b : b - a;
}

/// The comms log holds exactly the scenario's calls, every field right.
inline void check_rows(store::database& db,
                       const test::expected_scenario& scenario,
                       const customer_ids& customers) {
  INFO("scenario " << scenario.scenario);
  REQUIRE(count_rows(db) == static_cast<int64_t>(scenario.calls.size()));
  for (auto& call : scenario.calls) {
    INFO("linkedid " << call.linkedid << " (" << to_string(call.direction)
                     << ", " << call.external_number << ", "
                     << call.cdr_disposition << ")");
    auto found = db.find_comms("ami", call.linkedid);
    REQUIRE(found);
    REQUIRE(*found);
    auto& row = **found;
    CHECK(row.type == "call");
    CHECK(row.source == "ami");
    CHECK(row.ext_message_id == call.linkedid);
    CHECK(row.direction == to_string(call.direction));
    CHECK(row.external_number == call.external_number);
    CHECK(row.extension == call.extension);
    CHECK(row.disposition == to_string(call.disposition));
    CHECK(distance(row.duration_seconds, call.total_seconds) <= 1);
    CHECK(distance(row.billsec, call.billsec) <= 1);
    CHECK(distance(row.talk_seconds, call.talk_seconds) <= 1);
    auto body_start
        = "Call duration: " + std::to_string(row.duration_seconds) + "s";
    CHECK(row.body.compare(0, body_start.size(), body_start) == 0);
    // -1 = no customer (readable in a failure message).
    auto id_or_none = [](caf::optional<int64_t> x) { return x ? *x : -1; };
    CHECK(id_or_none(row.customer_id)
          == id_or_none(expected_customer(call, customers)));
    auto occurred = store::parse_iso8601(row.occurred_at);
    REQUIRE(occurred);
    CHECK(distance(*occurred, call.start) <= 1'000'000);
    CHECK(row.ucid.empty());
  }
}

/// Total of the tracker's finalized calls, by result ("complete" /
/// "incomplete"): process-wide, so tests compare before and after.
inline double tracker_calls(const char* result) {
  return test::counter_value("switchboard_tracker_calls_total",
                             {{"result", result}});
}

/// AMI records the writer found already stored (replays): process-wide.
inline double ami_duplicates() {
  return test::counter_value("switchboard_calls_deduplicated_total",
                             {{"source", "ami"}, {"outcome", "duplicate"}});
}

/// A PBX name used once per process: per-PBX metrics start at zero.
inline std::string fresh_pbx_name() {
  static int n = 0;
  return "e2e-" + std::to_string(++n);
}

/// Replays `scenario` once through a new pipeline into `b` and waits until
/// every event was sent, `settled()` holds and the pipeline holds nothing
/// (no live call in the tracker, nothing pending in the writer). Returns
/// false on timeout. `connections` receives how many AMI connections the
/// replay server accepted.
inline bool replay_once(const backend& b, const std::string& scenario,
                        const std::string& spool_name,
                        const std::function<bool()>& settled,
                        ami::replay_options options = {},
                        size_t* connections = nullptr) {
  options.capture_path = test::ami_capture(scenario);
  auto pbx = test::start_replay(options);
  test::pipeline p{b.url, b.dir_file(spool_name), *pbx, fresh_pbx_name()};
  bool done = test::wait_until(
      [&] {
        return pbx->events_sent() == pbx->capture_events() && settled()
               && p.live_calls() == 0 && p.writer_pending() == 0;
      },
      std::chrono::seconds{20}, std::chrono::milliseconds{10});
  if (connections != nullptr)
    *connections = pbx->connections();
  p.stop();
  return done;
}

} // namespace sb::e2e
