// End to end, realistic loss: the test AMI server drops the connection and,
// like a real Asterisk, never sends what happened while nobody listened; a
// real MariaDB (tests/with-databases.sh) holds the PBX's CDR rows (the
// capture's .cdr.csv). Afterwards every call is in the comms log exactly
// once, the ones rebuilt from the CDR marked recovered. Also: switchboard
// stopped for a stretch of the stream (the next start catches up from the
// last call logged), and the CDR database away during the gap (AMI logging
// goes on; the catch-up happens when it is back).

#include "tests/fixtures/cdr_support.hpp"
#include "tests/fixtures/e2e_support.hpp"

#include <set>

namespace {

using namespace sb;
using namespace sb::e2e;

const char* burst = "dev-11-burst-50";

/// A fresh CDR table holding every row of `scenario`.
std::unique_ptr<soci::session> load_cdr(const std::string& url,
                                        const std::string& scenario) {
  auto s = test::fresh_cdr_table(url);
  test::insert_cdr_rows(*s, test::load_cdr_csv(scenario));
  return s;
}

test::pipeline::tweak with_cdr(const std::string& url) {
  return [url](app_config& cfg, server_options&) {
    cfg.pbxes.at(0).cdr_url = url;
  };
}

struct outcome {
  int64_t rows = 0;
  int64_t recovered = 0;
  int64_t incomplete = 0;
};

/// Every expected call exactly once under its PBX, every field right.
outcome check_all(store::database& db, const std::string& pbx,
                  const test::expected_scenario& expected) {
  outcome o;
  o.rows = count_rows(db);
  CHECK(o.rows == static_cast<int64_t>(expected.calls.size()));
  for (const auto& x : expected.calls) {
    INFO("call " << x.linkedid);
    auto row = db.find_comms("ami", pbx, x.linkedid);
    REQUIRE(row);
    REQUIRE(*row);
    const auto& e = **row;
    INFO("recovered '" << e.recovered << "' incomplete " << e.incomplete);
    o.recovered += e.recovered == "cdr" ? 1 : 0;
    o.incomplete += e.incomplete ? 1 : 0;
    CHECK(e.direction == to_string(x.direction));
    CHECK(e.external_number == x.external_number);
    CHECK(e.extension == x.extension);
    CHECK(e.disposition == to_string(x.disposition));
    if (e.recovered == "cdr") {
      CHECK(distance(e.duration_seconds, x.total_seconds) <= 1);
      CHECK(distance(e.billsec, x.billsec) <= 1);
    }
  }
  return o;
}

/// Every expected call once, complete, its parties right: what the
/// catch-up leads to (the gaps of calls up across the gap are read when
/// those calls end, after their rows first went in).
bool all_right(store::database& db, const std::string& pbx,
               const test::expected_scenario& expected) {
  if (count_rows(db) != static_cast<int64_t>(expected.calls.size()))
    return false;
  for (const auto& x : expected.calls) {
    auto row = db.find_comms("ami", pbx, x.linkedid);
    if (!row || !*row)
      return false;
    const auto& e = **row;
    if (e.incomplete || e.extension != x.extension
        || e.disposition != to_string(x.disposition)
        || e.direction != to_string(x.direction))
      return false;
  }
  return true;
}

ami::replay_options lossy(size_t close_after, size_t lost) {
  ami::replay_options options;
  options.capture_path = test::ami_capture(burst);
  options.close_after_events = close_after;
  options.max_drops = 1;
  options.lost_on_drop = lost;
  return options;
}

} // namespace

TEST_CASE("e2e: calls lost while the AMI connection is down come back from "
          "the CDR database, each once",
          "[e2e][cdr][mysql]") {
  quiet_logs();
  auto url = test::mysql_url_or_skip("catch-up after a dropped connection");
  if (url.empty())
    return;
  auto cdr = load_cdr(url, burst);
  auto b = sqlite_backend();
  auto reader = open_db(b.url);
  auto expected = test::load_expected(burst);
  auto server = test::start_replay(lossy(1500, 1200));
  auto pbx_name = fresh_pbx_name();
  test::pipeline p{b.url, b.dir_file("spool"), *server, pbx_name,
                   with_cdr(url)};
  bool settled = test::wait_until(
      [&] {
        return server->events_sent() + 1200 >= server->capture_events()
               && count_rows(*reader)
                      == static_cast<int64_t>(expected.calls.size())
               && p.live_calls() == 0 && p.writer_pending() == 0;
      },
      std::chrono::seconds{30}, std::chrono::milliseconds{20});
  INFO("rows " << count_rows(*reader) << ", events sent "
               << server->events_sent() << " of "
               << server->capture_events());
  REQUIRE(settled);
  test::wait_until([&] { return all_right(*reader, pbx_name, expected); },
                   std::chrono::seconds{30}, std::chrono::milliseconds{20});
  auto o = check_all(*reader, pbx_name, expected);
  CHECK(server->connections() >= 2);
  CHECK(o.recovered > 0);
  CHECK(o.recovered < o.rows);
  CHECK(o.incomplete == 0);
  p.stop();
}

TEST_CASE("e2e: calls of a stretch while switchboard was stopped come back "
          "from the CDR database at the next start",
          "[e2e][cdr][mysql]") {
  quiet_logs();
  auto url = test::mysql_url_or_skip("catch-up after a stop");
  if (url.empty())
    return;
  auto cdr = load_cdr(url, burst);
  auto b = sqlite_backend();
  auto reader = open_db(b.url);
  auto expected = test::load_expected(burst);
  auto server = test::start_replay(lossy(1500, 1200));
  auto pbx_name = fresh_pbx_name();
  {
    // Runs until the PBX drops it; stopped (as by SIGTERM) while the
    // stream goes on without it.
    // It would reconnect only after a minute: it is stopped first.
    test::pipeline first{b.url, b.dir_file("spool"), *server, pbx_name,
                         [](app_config&, server_options& opts) {
                           opts.reconnect_initial = std::chrono::seconds{60};
                           opts.reconnect_max = std::chrono::seconds{60};
                         }};
    REQUIRE(test::wait_until([&] { return server->events_sent() >= 1500; },
                             std::chrono::seconds{20},
                             std::chrono::milliseconds{5}));
    first.stop();
  }
  auto logged_before = count_rows(*reader);
  CHECK(logged_before < static_cast<int64_t>(expected.calls.size()));
  test::pipeline second{b.url, b.dir_file("spool"), *server, pbx_name,
                        with_cdr(url)};
  bool settled = test::wait_until(
      [&] {
        return server->events_sent() + 1200 >= server->capture_events()
               && count_rows(*reader)
                      == static_cast<int64_t>(expected.calls.size())
               && second.live_calls() == 0 && second.writer_pending() == 0;
      },
      std::chrono::seconds{30}, std::chrono::milliseconds{20});
  INFO("rows " << count_rows(*reader));
  REQUIRE(settled);
  test::wait_until([&] { return all_right(*reader, pbx_name, expected); },
                   std::chrono::seconds{30}, std::chrono::milliseconds{20});
  auto o = check_all(*reader, pbx_name, expected);
  CHECK(o.recovered > 0);
  second.stop();
}

TEST_CASE("e2e: with the CDR database away during the gap AMI logging goes "
          "on, and the catch-up happens when it is back",
          "[e2e][cdr][mysql]") {
  quiet_logs();
  auto url = test::mysql_url_or_skip("catch-up with the CDR database away");
  if (url.empty())
    return;
  auto cdr = load_cdr(url, burst);
  // Away: the table is gone, every read fails.
  *cdr << "RENAME TABLE cdr TO cdr_away";
  auto b = sqlite_backend();
  auto reader = open_db(b.url);
  auto expected = test::load_expected(burst);
  auto server = test::start_replay(lossy(1500, 1200));
  auto pbx_name = fresh_pbx_name();
  auto errors = [&] {
    return test::counter_value("switchboard_cdr_errors_total",
                               {{"pbx", pbx_name}});
  };
  test::pipeline p{b.url, b.dir_file("spool"), *server, pbx_name,
                   with_cdr(url)};
  // The whole stream is logged (but the lost calls) while the CDR is away.
  bool ami_done = test::wait_until(
      [&] {
        return server->events_sent() + 1200 >= server->capture_events()
               && p.live_calls() == 0 && p.writer_pending() == 0
               && errors() >= 2;
      },
      std::chrono::seconds{30}, std::chrono::milliseconds{20});
  REQUIRE(ami_done);
  auto while_away = count_rows(*reader);
  CHECK(while_away > 0);
  CHECK(while_away < static_cast<int64_t>(expected.calls.size()));
  *cdr << "RENAME TABLE cdr_away TO cdr";
  bool caught_up = test::wait_until(
      [&] {
        return count_rows(*reader)
                   == static_cast<int64_t>(expected.calls.size())
               && p.writer_pending() == 0;
      },
      std::chrono::seconds{60}, std::chrono::milliseconds{20});
  INFO("rows " << count_rows(*reader));
  REQUIRE(caught_up);
  test::wait_until([&] { return all_right(*reader, pbx_name, expected); },
                   std::chrono::seconds{60}, std::chrono::milliseconds{20});
  auto o = check_all(*reader, pbx_name, expected);
  CHECK(o.recovered > 0);
  CHECK(o.incomplete == 0);
  p.stop();
}
