// End to end, over real TCP: the AMI replay server on 127.0.0.1 plays a
// recorded PBX session -> sb::server (ami_connection -> ami_parser ->
// call_tracker -> customer_matcher -> comms_log_writer) -> a real database
// (a SQLite file in a temp dir; a scratch PostgreSQL database when
// tests/with-databases.sh provides a server). The comms log is then compared
// row by row with the scenario's expected.json.

#include "tests/fixtures/e2e_support.hpp"

namespace {

using namespace sb;
using namespace sb::e2e;

/// Every scenario with an expected.json; the fixture set holds 16.
std::vector<std::string> all_scenarios() {
  auto scenarios = test::capture_scenarios();
  REQUIRE(scenarios.size() >= 16);
  return scenarios;
}

/// One scenario into a fresh database, customers seeded: every row right.
void capture_lands_right(const backend& b, const std::string& scenario) {
  INFO("backend " << b.label << ", scenario " << scenario);
  auto expected = test::load_expected(scenario);
  auto reader = open_db(b.url);
  auto customers = seed_customers(*reader, expected);
  const auto calls = static_cast<int64_t>(expected.calls.size());
  REQUIRE(replay_once(b, scenario, "spool",
                      [&] { return count_rows(*reader) == calls; }));
  check_rows(*reader, expected, customers);
}

/// Row ids by Linkedid: what a second replay must leave untouched.
std::map<std::string, int64_t> row_ids(store::database& db,
                                       const test::expected_scenario& s) {
  std::map<std::string, int64_t> ids;
  for (auto& call : s.calls) {
    auto found = db.find_comms("ami", call.linkedid);
    REQUIRE(found);
    REQUIRE(*found);
    ids[call.linkedid] = (*found)->id;
  }
  return ids;
}

/// The same capture through a second server run on the same database: every
/// call reaches the writer again (counted as a duplicate) and nothing is
/// added or changed.
void replay_twice_adds_nothing(const backend& b, const std::string& scenario) {
  INFO("backend " << b.label << ", scenario " << scenario);
  auto expected = test::load_expected(scenario);
  const auto calls = static_cast<int64_t>(expected.calls.size());
  auto reader = open_db(b.url);
  auto customers = seed_customers(*reader, expected);
  // The same PBX both times: another PBX's calls are other calls.
  auto pbx_name = fresh_pbx_name();
  REQUIRE(replay_once(b, scenario, "spool-1",
                      [&] { return count_rows(*reader) == calls; }, {},
                      nullptr, pbx_name));
  check_rows(*reader, expected, customers);
  auto first_ids = row_ids(*reader, expected);

  auto duplicates_before = ami_duplicates();
  auto seen_again = [&] {
    return ami_duplicates() - duplicates_before >= static_cast<double>(calls);
  };
  REQUIRE(replay_once(b, scenario, "spool-2", seen_again, {}, nullptr,
                      pbx_name));
  CHECK(ami_duplicates() - duplicates_before == static_cast<double>(calls));
  CHECK(count_rows(*reader) == calls);
  CHECK(row_ids(*reader, expected) == first_ids);
  check_rows(*reader, expected, customers);
}

/// The replay server closes the socket `drops` times mid-stream; the
/// supervisor reconnects and the stream continues where it stopped. Every
/// call is written once, none finalized as incomplete, none twice.
void dropped_connection_loses_nothing(const backend& b,
                                      const std::string& scenario,
                                      size_t drops) {
  INFO("backend " << b.label << ", scenario " << scenario << ", drops "
                  << drops);
  auto expected = test::load_expected(scenario);
  const auto calls = static_cast<int64_t>(expected.calls.size());
  auto events = test::load_capture(scenario).size();
  REQUIRE(events > drops + 1);
  auto reader = open_db(b.url);
  auto customers = seed_customers(*reader, expected);
  ami::replay_options options;
  options.close_after_events = events / (drops + 1);
  options.max_drops = drops;
  auto complete_before = tracker_calls("complete");
  auto incomplete_before = tracker_calls("incomplete");
  auto duplicates_before = ami_duplicates();
  size_t connections = 0;
  REQUIRE(replay_once(
      b, scenario, "spool", [&] { return count_rows(*reader) == calls; },
      options, &connections));
  CHECK(connections == drops + 1);
  check_rows(*reader, expected, customers);
  CHECK(tracker_calls("complete") - complete_before
        == static_cast<double>(calls));
  CHECK(tracker_calls("incomplete") - incomplete_before == 0);
  CHECK(ami_duplicates() - duplicates_before == 0);
}

const char* burst = "dev-11-burst-50";
const char* queue = "dev-15-inbound-queue";
const char* ring_group = "dev-06-inbound-ringgroup-second-answers";

} // namespace

TEST_CASE("e2e sqlite: every capture lands in the comms log, every row right",
          "[e2e][sqlite]") {
  quiet_logs();
  for (auto& scenario : all_scenarios())
    capture_lands_right(sqlite_backend(), scenario);
}

TEST_CASE("e2e postgresql: every capture lands in the comms log, every row "
          "right",
          "[e2e][postgresql]") {
  quiet_logs();
  if (!postgres_available_or_warn("every capture, every row"))
    return;
  // A fresh database per scenario: reruns see the same state.
  for (auto& scenario : all_scenarios())
    capture_lands_right(postgres_backend(), scenario);
}

TEST_CASE("e2e sqlite: replaying the same capture twice adds nothing",
          "[e2e][sqlite]") {
  quiet_logs();
  replay_twice_adds_nothing(sqlite_backend(), burst);
  replay_twice_adds_nothing(sqlite_backend(), queue);
}

TEST_CASE("e2e postgresql: replaying the same capture twice adds nothing",
          "[e2e][postgresql]") {
  quiet_logs();
  if (!postgres_available_or_warn("replaying twice adds nothing"))
    return;
  replay_twice_adds_nothing(postgres_backend(), burst);
  replay_twice_adds_nothing(postgres_backend(), queue);
}

TEST_CASE("e2e sqlite: a connection dropped mid-stream and reconnected loses "
          "no call and duplicates none",
          "[e2e][sqlite]") {
  quiet_logs();
  // Twice during the 50-call burst (calls in progress at both drops), and
  // once in the middle of a ring-group call.
  dropped_connection_loses_nothing(sqlite_backend(), burst, 2);
  dropped_connection_loses_nothing(sqlite_backend(), ring_group, 1);
}

TEST_CASE("e2e postgresql: a connection dropped mid-stream and reconnected "
          "loses no call and duplicates none",
          "[e2e][postgresql]") {
  quiet_logs();
  if (!postgres_available_or_warn("dropped connection"))
    return;
  dropped_connection_loses_nothing(postgres_backend(), burst, 2);
  dropped_connection_loses_nothing(postgres_backend(), ring_group, 1);
}
