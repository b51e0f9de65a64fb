// Faults injected into the real switchboard binary while a local replay PBX
// streams dev-11 (50 overlapping calls): SIGTERM mid-burst (database up, or
// SQLite locked), SIGTERM and kill -9 with the database down since start-up,
// kill -9 while SQLite is locked. A run's own log line (`pipeline drained
// committed=N spooled=N lost=N`) is the claim: at least the calls the tracker
// had finalized before the signal (read from /metrics), and exactly what the
// database and the spool file hold. A second start (no PBX, working
// database) is the check: every call claimed stored exactly once, each one
// of the capture's calls, both spools empty.

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "adapters/store/database.hpp"
#include "core/db_url.hpp"
#include "tests/fixtures/ami_server.hpp"
#include "tests/fixtures/capture.hpp"
#include "tests/fixtures/e2e_harness.hpp"
#include "tests/fixtures/prometheus_scrape_support.hpp"

using namespace sb::scrape_test;

namespace {

const char* scenario = "dev-11-burst-50";
const char* pbx_user = "fault";
const char* pbx_secret = "fault-secret";

/// The counts of the last log line that contains `marker`.
struct logged_counts {
  bool found = false;
  int64_t committed = -1;
  int64_t spooled = -1;
  int64_t lost = -1;
  int64_t uncommitted = -1;
};

int64_t number_after(const std::string& line, const std::string& key) {
  auto at = line.find(" " + key + "=");
  if (at == std::string::npos)
    return -1;
  return std::strtoll(line.c_str() + at + key.size() + 2, nullptr, 10);
}

logged_counts counts_in(const fs::path& log, const std::string& marker) {
  logged_counts counts;
  std::istringstream lines{read_text(log)};
  for (std::string line; std::getline(lines, line);) {
    if (line.find(marker) == std::string::npos)
      continue;
    counts.found = true;
    counts.committed = number_after(line, "committed");
    counts.spooled = number_after(line, "spooled");
    counts.lost = number_after(line, "lost");
    counts.uncommitted = number_after(line, "uncommitted");
  }
  return counts;
}

logged_counts drained(const child_process& p) {
  return counts_in(p.log(), "msg=\"pipeline drained\"");
}

logged_counts stopped(const child_process& p) {
  return counts_in(p.log(), "msg=stopped");
}

/// Complete records in a spool file (see adapters/store/spool.hpp: u32
/// length, u32 hash, payload), read without opening it as a spool: opening
/// cuts a torn tail, which must not happen to a file a running process
/// appends to.
size_t records_in_spool_file(const fs::path& path) {
  auto bytes = read_text(path);
  // A spool with records starts with a 12-byte header (magic, format).
  size_t at = bytes.empty() ? 0 : 12;
  size_t records = 0;
  while (at + 8 <= bytes.size()) {
    uint32_t length = 0;
    std::memcpy(&length, bytes.data() + at, sizeof length);
    if (at + 8 + length > bytes.size())
      break;
    at += 8 + length;
    ++records;
  }
  return records;
}

std::set<std::string> capture_linkedids() {
  std::set<std::string> ids;
  for (auto& call : sb::test::load_expected(scenario).calls)
    ids.insert(call.linkedid);
  return ids;
}

/// What the comms log holds after a run.
struct stored_calls {
  int64_t rows = -1;
  std::set<std::string> ami_ids;
  std::string error;
};

stored_calls stored(const std::string& url) {
  stored_calls result;
  auto db = sb::store::database::open(url);
  if (!db) {
    result.error = caf::to_string(db.error());
    return result;
  }
  if (auto rows = (*db)->count_comms())
    result.rows = *rows;
  sb::comms_query q;
  q.source = "ami";
  q.limit = 500;
  if (auto entries = (*db)->query_comms(q))
    for (auto& e : *entries)
      result.ami_ids.insert(e.ext_message_id);
  return result;
}

bool log_has(const child_process& p, const std::string& text) {
  return read_text(p.log()).find(text) != std::string::npos;
}

std::vector<sample> scrape(uint16_t port) {
  auto reply = http_get(port, "/metrics");
  return reply.status == 200 ? parse_samples(reply.body)
                             : std::vector<sample>{};
}

double tracker_finalized(const std::vector<sample>& page) {
  return sum_of(page, "switchboard_tracker_calls_total");
}

/// Where one scenario keeps its database and spools, across its runs.
struct site {
  scratch_dir dir{"sb-fault"};
  fs::path spool = dir.path() / "writer.spool";
  fs::path held = dir.path() / "writer.spool.held";
  int run = 0;
};

/// Starts switchboard on `url` with the site's spool, following `pbx` when
/// given (else with no PBX at all).
running_server start(site& where, const std::string& url,
                     const std::function<uint16_t()>& pbx_port = {}) {
  auto run_dir = where.dir.path() / ("run-" + std::to_string(++where.run));
  fs::create_directories(run_dir);
  // The secret alone configures a PBX: only a run with one gets it.
  std::vector<std::string> env;
  if (pbx_port)
    env.push_back(std::string{"SWITCHBOARD_PBX_REPLAY_SECRET="} + pbx_secret);
  return start_switchboard(run_dir, clean_environment(env), [&](uint16_t) {
    std::vector<std::string> args{"--db.url=" + url,
                                  "--db.spool_path=" + where.spool.string(),
                                  "--log.level=info"};
    if (pbx_port) {
      args.push_back("--pbx.replay.host=127.0.0.1");
      args.push_back("--pbx.replay.port=" + std::to_string(pbx_port()));
      args.push_back(std::string{"--pbx.replay.username="} + pbx_user);
    }
    return args;
  });
}

sb::ami::replay_options burst(double events_per_second) {
  sb::ami::replay_options replay;
  replay.capture_path = sb::test::ami_capture(scenario);
  replay.username = pbx_user;
  replay.secret = pbx_secret;
  replay.events_per_second = events_per_second;
  return replay;
}

/// SIGTERM and the checks every stop shares: exit 0 without SIGKILL, the
/// drained line and main's stopped line agree, nothing lost.
logged_counts stop_cleanly(child_process& process) {
  auto ended = process.stop(milliseconds{30000});
  INFO("switchboard log:\n" << log_tail(process.log()));
  CHECK(ended.exited);
  CHECK(ended.code == 0);
  CHECK_FALSE(ended.killed);
  auto claim = drained(process);
  auto last = stopped(process);
  REQUIRE(claim.found);
  REQUIRE(last.found);
  CHECK(claim.lost == 0);
  CHECK(last.committed == claim.committed);
  CHECK(last.spooled == claim.spooled);
  CHECK(last.lost == claim.lost);
  CHECK(last.uncommitted == claim.spooled + claim.lost);
  return claim;
}

/// A second start with no PBX on a working database: the spools replay;
/// then the comms log holds `calls` rows, one per call, all from the capture,
/// and both spools are empty.
void replay_and_check(site& where, const std::string& url, size_t calls) {
  auto server = start(where, url);
  auto& process = *server.process;
  stored_calls now;
  bool replayed = wait_until(milliseconds{20000}, milliseconds{50}, [&] {
    auto page = scrape(server.port);
    now = stored(url);
    return now.rows >= static_cast<int64_t>(calls)
           && sum_of(page, "switchboard_writer_spool_depth") == 0
           && sum_of(page, "switchboard_writer_pending") == 0;
  });
  INFO("second start's log:\n" << log_tail(process.log()));
  CHECK(replayed);
  auto claim = stop_cleanly(process);
  CHECK(claim.spooled == 0);
  now = stored(url);
  INFO("database: " << now.error);
  CHECK(now.rows == static_cast<int64_t>(calls));
  CHECK(now.ami_ids.size() == calls);
  auto capture = capture_linkedids();
  for (auto& id : now.ami_ids) {
    INFO("linkedid " << id);
    CHECK(capture.count(id) == 1);
  }
  CHECK(records_in_spool_file(where.spool) == 0);
  CHECK(records_in_spool_file(where.held) == 0);
}

/// A database that is down from the start and can be brought back.
struct outage {
  std::string label;
  std::string down_url;
  std::string up_url;
  std::function<void()> recover;
  std::shared_ptr<sb::test::pg_scratch_database> pg;
};

/// SQLite in a directory that does not exist yet; recovery creates it.
outage sqlite_outage(const site& where) {
  auto dir = where.dir.path() / "not-yet";
  auto url = "sqlite:" + (dir / "crm.db").string();
  return {"sqlite", url, url, [dir] { fs::create_directories(dir); }, nullptr};
}

/// PostgreSQL on a port nobody listens on; recovery is the test server.
outage postgres_outage() {
  outage o;
  o.label = "postgresql";
  o.pg = std::make_shared<sb::test::pg_scratch_database>("sb_fault");
  o.down_url = "postgresql://switchboard@127.0.0.1:"
               + std::to_string(free_port()) + "/nothing";
  o.up_url = o.pg->url();
  o.recover = [] {};
  return o;
}

std::vector<std::function<outage(const site&)>> outages() {
  std::vector<std::function<outage(const site&)>> all{sqlite_outage};
  if (!sb::test::test_pg_url().empty())
    all.emplace_back([](const site&) { return postgres_outage(); });
  else
    WARN("PostgreSQL outage cases SKIPPED: SB_TEST_PG_URL is not set (run "
         "through tests/with-databases.sh)");
  return all;
}

} // namespace

TEST_CASE("SIGTERM during a burst: exit 0, nothing lost, every completed "
          "call stored once after the next start",
          "[fault][process]") {
  REQUIRE(capture_linkedids().size() == 50);
  // An empty URL stands for a SQLite file of the run's own.
  std::vector<std::string> urls{""};
  std::shared_ptr<sb::test::pg_scratch_database> pg;
  if (!sb::test::test_pg_url().empty()) {
    pg = std::make_shared<sb::test::pg_scratch_database>("sb_fault");
    urls.push_back(pg->url());
  } else {
    WARN("PostgreSQL case SKIPPED: SB_TEST_PG_URL is not set (run through "
         "tests/with-databases.sh)");
  }
  for (auto url : urls) {
    site where;
    if (url.empty())
      url = "sqlite:" + (where.dir.path() / "crm.db").string();
    INFO("database " << sb::redact_url(url));
    // About four seconds of events, so the stop falls into the stream.
    std::unique_ptr<sb::ami::replay_server> pbx;
    auto server = start(where, url, [&] {
      pbx.reset();
      pbx = sb::test::start_replay(burst(1000));
      return pbx->port();
    });
    auto& process = *server.process;
    // Stop once a fifth of the calls were finalized.
    double finalized = 0;
    REQUIRE(wait_until(milliseconds{20000}, milliseconds{10}, [&] {
      finalized = tracker_finalized(scrape(server.port));
      return finalized >= 10;
    }));
    const auto sent_at_stop = pbx->events_sent();
    INFO("events sent when SIGTERM was sent: " << sent_at_stop << " of "
                                               << pbx->capture_events());
    REQUIRE(sent_at_stop < pbx->capture_events());
    auto claim = stop_cleanly(process);
    pbx.reset();
    WARN("SIGTERM mid-burst ("
         << sb::redact_url(url) << "): " << finalized
         << " calls finalized before, committed=" << claim.committed
         << " spooled=" << claim.spooled << " lost=" << claim.lost);
    // Everything finalized before the signal is claimed, and the claim
    // holds no more calls than the capture has.
    auto claimed = claim.committed + claim.spooled;
    CHECK(claimed >= static_cast<int64_t>(finalized));
    CHECK(claimed <= 50);
    // Committed means in the database now; spooled means in the spool file.
    auto now = stored(url);
    CHECK(now.rows == claim.committed);
    CHECK(static_cast<int64_t>(records_in_spool_file(where.spool))
          == claim.spooled);
    replay_and_check(where, url, static_cast<size_t>(claimed));
  }
}

TEST_CASE("SIGTERM with the database down since start-up: every call "
          "spooled, committed once on the next start",
          "[fault][process]") {
  for (auto& make : outages()) {
    site where;
    auto db = make(where);
    INFO("outage of " << db.label);
    std::unique_ptr<sb::ami::replay_server> pbx;
    auto server = start(where, db.down_url, [&] {
      pbx.reset();
      pbx = sb::test::start_replay(burst(0));
      return pbx->port();
    });
    auto& process = *server.process;
    // The whole capture delivered and every call finalized by the tracker.
    bool finalized = wait_until(milliseconds{20000}, milliseconds{20}, [&] {
      return pbx->events_sent() == pbx->capture_events()
             && tracker_finalized(scrape(server.port)) == 50;
    });
    INFO("switchboard log:\n" << log_tail(process.log()));
    REQUIRE(finalized);
    auto claim = stop_cleanly(process);
    pbx.reset();
    WARN("SIGTERM, " << db.label
                     << " down since start: committed=" << claim.committed
                     << " spooled=" << claim.spooled << " lost=" << claim.lost);
    CHECK(claim.committed == 0);
    CHECK(claim.spooled == 50);
    CHECK(records_in_spool_file(where.spool) == 50);
    db.recover();
    replay_and_check(where, db.up_url, 50);
  }
}

TEST_CASE("kill -9 with the database down since start-up: the held calls "
          "survive, committed once on the next start",
          "[fault][process]") {
  for (auto& make : outages()) {
    site where;
    auto db = make(where);
    INFO("outage of " << db.label);
    std::unique_ptr<sb::ami::replay_server> pbx;
    auto server = start(where, db.down_url, [&] {
      pbx.reset();
      pbx = sb::test::start_replay(burst(0));
      return pbx->port();
    });
    auto& process = *server.process;
    // Every call finalized and held on disk (the matcher's held-calls spool,
    // since no customer index could load, or the writer's spool).
    bool held = wait_until(milliseconds{20000}, milliseconds{20}, [&] {
      return tracker_finalized(scrape(server.port)) == 50
             && records_in_spool_file(where.held)
                        + records_in_spool_file(where.spool)
                    >= 50;
    });
    INFO("switchboard log:\n" << log_tail(process.log()));
    REQUIRE(held);
    REQUIRE(::kill(process.pid(), SIGKILL) == 0);
    auto ended = process.stop(milliseconds{5000});
    CHECK(ended.signal == SIGKILL);
    pbx.reset();
    WARN("kill -9, " << db.label << " down since start: held spool "
                     << records_in_spool_file(where.held) << ", writer spool "
                     << records_in_spool_file(where.spool));
    db.recover();
    replay_and_check(where, db.up_url, 50);
  }
}

TEST_CASE("kill -9 while SQLite is locked by another process: what the "
          "writer spooled is committed once on the next start",
          "[fault][process]") {
  site where;
  auto file = where.dir.path() / "crm.db";
  auto url = "sqlite:" + file.string();
  // The PBX comes up only after switchboard opened the database and loaded
  // its customer index, and another writer (an operator's shell, an import)
  // took the lock: the calls reach a writer whose database is locked.
  auto pbx_port = free_port();
  auto server = start(where, url, [&] { return pbx_port; });
  auto& process = *server.process;
  REQUIRE(wait_until(milliseconds{15000}, milliseconds{20}, [&] {
    return log_has(process, "msg=\"customer index loaded\"")
           && log_has(process, "msg=\"database opened\"");
  }));
  soci::session locker(soci::sqlite3, file.string());
  locker << "BEGIN EXCLUSIVE";
  auto replay = burst(0);
  replay.port = pbx_port;
  auto pbx = sb::test::start_replay(replay);

  std::vector<sample> page;
  bool spooled = wait_until(milliseconds{20000}, milliseconds{20}, [&] {
    page = scrape(server.port);
    return sum_of(page, "switchboard_writer_spool_depth") == 50;
  });
  INFO("switchboard log:\n" << log_tail(process.log()));
  INFO("writer spool depth " << sum_of(page, "switchboard_writer_spool_depth")
                             << ", pending "
                             << sum_of(page, "switchboard_writer_pending"));
  REQUIRE(spooled);
  REQUIRE(::kill(process.pid(), SIGKILL) == 0);
  auto ended = process.stop(milliseconds{5000});
  CHECK(ended.signal == SIGKILL);
  pbx.reset();
  CHECK(records_in_spool_file(where.spool) == 50);
  locker << "ROLLBACK";
  locker.close();
  CHECK(stored(url).rows == 0);
  replay_and_check(where, url, 50);
}

TEST_CASE("SIGTERM during a burst while SQLite is locked: the drain spools "
          "what it cannot commit, committed once on the next start",
          "[fault][process]") {
  site where;
  auto file = where.dir.path() / "crm.db";
  auto url = "sqlite:" + file.string();
  std::unique_ptr<sb::ami::replay_server> pbx;
  auto server = start(where, url, [&] {
    pbx.reset();
    pbx = sb::test::start_replay(burst(1000));
    return pbx->port();
  });
  auto& process = *server.process;
  REQUIRE(wait_until(milliseconds{15000}, milliseconds{10}, [&] {
    return log_has(process, "msg=\"customer index loaded\"")
           && log_has(process, "msg=\"database opened\"");
  }));
  soci::session locker(soci::sqlite3, file.string());
  locker << "BEGIN EXCLUSIVE";
  double finalized = 0;
  REQUIRE(wait_until(milliseconds{20000}, milliseconds{10}, [&] {
    finalized = tracker_finalized(scrape(server.port));
    return finalized >= 10;
  }));
  INFO("events sent when SIGTERM was sent: " << pbx->events_sent() << " of "
                                             << pbx->capture_events());
  REQUIRE(pbx->events_sent() < pbx->capture_events());
  auto claim = stop_cleanly(process);
  pbx.reset();
  WARN("SIGTERM mid-burst, SQLite locked: " << finalized
                                            << " calls finalized before, "
                                               "committed="
                                            << claim.committed
                                            << " spooled=" << claim.spooled
                                            << " lost=" << claim.lost);
  auto claimed = claim.committed + claim.spooled;
  CHECK(claimed >= static_cast<int64_t>(finalized));
  CHECK(claimed <= 50);
  CHECK(static_cast<int64_t>(records_in_spool_file(where.spool))
        == claim.spooled);
  locker << "ROLLBACK";
  locker.close();
  CHECK(stored(url).rows == claim.committed);
  replay_and_check(where, url, static_cast<size_t>(claimed));
}
