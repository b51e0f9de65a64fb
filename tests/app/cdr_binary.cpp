// The real binary and the PBX's CDR database (a real MariaDB through
// tests/with-databases.sh): killed with SIGKILL for a stretch of the stream
// (the test AMI server never resends what it missed), the next start
// catches up from the last call logged and every call is in the comms log
// once; `switchboard backfill` then reports a hand-made mismatch without
// overwriting it, and adds a call that is missing.

#include <catch2/catch.hpp>

#include <csignal>
#include <set>

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "adapters/store/database.hpp"
#include "core/time.hpp"
#include "tests/fixtures/ami_server.hpp"
#include "tests/fixtures/capture.hpp"
#include "tests/fixtures/cdr_support.hpp"
#include "tests/fixtures/prometheus_scrape_support.hpp"

using namespace sb::scrape_test;

namespace {

const char* scenario = "dev-11-burst-50";
const char* pbx_user = "cdr";
const char* pbx_secret = "cdr-secret";

std::vector<std::string> pbx_args(uint16_t pbx_port, const std::string& db,
                                  const std::string& cdr_url) {
  return {"--db.url=" + db, "--pbx.replay.host=127.0.0.1",
          "--pbx.replay.port=" + std::to_string(pbx_port),
          std::string{"--pbx.replay.username="} + pbx_user,
          "--pbx.replay.cdr_url=" + cdr_url, "--log.level=info"};
}

int64_t rows_in(const std::string& db) {
  auto store = sb::store::database::open(db);
  if (!store)
    return -1;
  auto n = (*store)->count_comms();
  return n ? *n : -1;
}

int64_t incomplete_in(const std::string& db) {
  auto store = sb::store::database::open(db);
  if (!store)
    return -1;
  sb::comms_query q;
  q.limit = 500;
  auto rows = (*store)->query_comms(q);
  if (!rows)
    return -1;
  int64_t n = 0;
  for (const auto& e : *rows)
    n += e.incomplete ? 1 : 0;
  return n;
}

/// Runs `switchboard backfill ...` to its end; its exit code and output.
std::pair<int, std::string> run_backfill(const fs::path& dir,
                                         std::vector<std::string> args) {
  args.insert(args.begin(), {SB_SWITCHBOARD_BIN, "backfill"});
  child_process child{args,
                      clean_environment({std::string{
                          "SWITCHBOARD_PBX_REPLAY_SECRET="}
                                         + pbx_secret}),
                      dir, dir / "backfill.log"};
  wait_until(milliseconds{30000}, milliseconds{10},
             [&] { return !child.running(); });
  auto how = child.stop(milliseconds{2000});
  return {how.exited ? how.code : -1, read_text(dir / "backfill.log")};
}

} // namespace

TEST_CASE("the binary killed for a stretch of the stream catches up from the "
          "CDR at its next start; backfill reports what differs",
          "[e2e][cdr][mysql][binary]") {
  auto url = sb::test::mysql_url_or_skip("catch-up after kill -9");
  if (url.empty())
    return;
  auto cdr = sb::test::fresh_cdr_table(url);
  sb::test::insert_cdr_rows(*cdr, sb::test::load_cdr_csv(scenario));
  auto expected = sb::test::load_expected(scenario);
  scratch_dir dir{"sb-cdr-bin"};
  auto db = "sqlite:" + (dir.path() / "crm.db").string();
  sb::ami::replay_options replay;
  replay.capture_path = sb::test::ami_capture(scenario);
  replay.username = pbx_user;
  replay.secret = pbx_secret;
  replay.close_after_events = 1500;
  replay.max_drops = 1;
  replay.lost_on_drop = 1200;
  auto pbx = sb::test::start_replay(replay);
  auto env = clean_environment(
      {std::string{"SWITCHBOARD_PBX_REPLAY_SECRET="} + pbx_secret});
  auto spool = "--db.spool_path=" + (dir.path() / "spool").string();
  {
    auto first = start_switchboard(dir.path(), env, [&](uint16_t) {
      auto args = pbx_args(pbx->port(), db, url);
      args.push_back(spool);
      return args;
    });
    REQUIRE(wait_until(milliseconds{20000}, milliseconds{2},
                       [&] { return pbx->events_sent() >= 1500; }));
    // Killed before it reconnects (its first retry waits a second).
    REQUIRE(::kill(first.process->pid(), SIGKILL) == 0);
    auto how = first.process->stop(milliseconds{5000});
    CHECK(how.signal == SIGKILL);
  }
  auto second = start_switchboard(dir.path(), env, [&](uint16_t) {
    auto args = pbx_args(pbx->port(), db, url);
    args.push_back(spool);
    return args;
  });
  bool all = wait_until(milliseconds{30000}, milliseconds{20}, [&] {
    return rows_in(db) == static_cast<int64_t>(expected.calls.size())
           && incomplete_in(db) == 0;
  });
  INFO("rows " << rows_in(db) << "\n" << log_tail(second.process->log()));
  REQUIRE(all);
  auto how = second.process->stop(milliseconds{30000});
  CHECK(how.exited);
  CHECK(how.code == 0);
  CHECK(read_text(second.process->log()).find("caught up from the CDR")
        != std::string::npos);
  auto store = sb::store::database::open(db);
  REQUIRE(store);
  size_t recovered = 0;
  for (const auto& x : expected.calls) {
    auto row = (*store)->find_comms("ami", "replay", x.linkedid);
    REQUIRE(row);
    REQUIRE(*row);
    recovered += (*row)->recovered == "cdr" ? 1 : 0;
  }
  CHECK(recovered > 0);

  // A hand-made mismatch and a missing call.
  const auto& changed = expected.calls.at(3);
  const auto& removed = expected.calls.at(7);
  {
    soci::session s{soci::sqlite3, (dir.path() / "crm.db").string()};
    s << "UPDATE crm_comms_log SET extension = '9999' WHERE ext_message_id = '"
             + changed.linkedid + "'";
    s << "DELETE FROM crm_comms_log WHERE ext_message_id = '"
             + removed.linkedid + "'";
  }
  auto first_start = expected.calls.front().start;
  auto last_start = first_start;
  for (const auto& x : expected.calls) {
    first_start = std::min(first_start, x.start);
    last_start = std::max(last_start, x.start);
  }
  std::vector<std::string> period{
      "--pbx", "replay", "--from", sb::iso8601_utc(first_start), "--to",
      sb::iso8601_utc(last_start + 1'000'000)};
  auto args = pbx_args(pbx->port(), db, url);
  args.insert(args.begin(), period.begin(), period.end());
  auto [code, output] = run_backfill(dir.path(), args);
  INFO(output);
  CHECK(code == 3);
  auto total = std::to_string(expected.calls.size());
  auto same = std::to_string(expected.calls.size() - 2);
  CHECK(output.find("in the CDR " + total + ", already logged " + same
                    + ", added 1, logged but different 1")
        != std::string::npos);
  CHECK(output.find("different " + changed.linkedid + " extension: logged "
                    "'9999', CDR '"
                    + changed.extension + "'")
        != std::string::npos);
  auto kept = (*store)->find_comms("ami", "replay", changed.linkedid);
  REQUIRE(kept);
  REQUIRE(*kept);
  CHECK((*kept)->extension == "9999"); // listed, not overwritten
  auto added = (*store)->find_comms("ami", "replay", removed.linkedid);
  REQUIRE(added);
  REQUIRE(*added);
  CHECK((*added)->recovered == "cdr");
  CHECK((*added)->extension == removed.extension);
  // Run again: nothing to add, the mismatch still listed.
  auto again = run_backfill(dir.path(), args);
  INFO(again.second);
  CHECK(again.second.find("added 0, logged but different 1")
        != std::string::npos);
  // Bad arguments change nothing and say why.
  auto bad_args = pbx_args(pbx->port(), db, url);
  for (const char* a : {"--pbx", "replay", "--from", "yesterday", "--to",
                        "today"})
    bad_args.emplace_back(a);
  auto bad = run_backfill(dir.path(), bad_args);
  CHECK(bad.first == 2);
  CHECK(bad.second.find("ISO-8601") != std::string::npos);
}
