// The PBX's CDR database on a real MariaDB (tests/with-databases.sh): rows
// come back with their times in UTC whatever the PBX's time zone, a window
// returns whole calls, and failures name no password.

#include "adapters/cdr/cdr_database.hpp"

#include <catch2/catch.hpp>

#include <set>

#include "core/error.hpp"
#include "tests/fixtures/cdr_support.hpp"

using namespace sb;

namespace {

constexpr unix_micros second = 1'000'000;

std::unique_ptr<cdr::database> open_or_fail(const std::string& url,
                                            const std::string& tz) {
  cdr::open_options options;
  options.timezone = tz;
  auto db = cdr::database::open(url, options);
  if (!db)
    FAIL("open: " << caf::to_string(db.error()));
  return std::move(*db);
}

} // namespace

TEST_CASE("CDR rows in the PBX's local time come back in UTC, whole calls "
          "per window",
          "[cdr][mysql]") {
  auto url = test::mysql_url_or_skip("the CDR database adapter");
  if (url.empty())
    return;
  auto rows = test::load_cdr_csv("dev-17-attended-transfer");
  auto more = test::load_cdr_csv("dev-07-outbound-answered");
  rows.insert(rows.end(), more.begin(), more.end());
  for (const char* tz : {"+00:00", "+05:30", "-08:00"}) {
    INFO("time zone " << tz);
    auto session = test::fresh_cdr_table(url);
    test::insert_cdr_rows(*session, rows, tz);
    auto db = open_or_fail(url, std::string{tz} == "+00:00" ? "UTC" : tz);
    // dev-17's rows start 08:46:16..08:46:32 on 2026-12-01; dev-07 is ten
    // days older. A window over dev-17's last row only still gives all
    // five rows of its call.
    auto last_row = rows[2].start; // 08:46:32
    auto got = db->calls_between(last_row, last_row + second);
    REQUIRE(got);
    REQUIRE(got->size() == 5);
    std::multiset<unix_micros> want;
    std::multiset<unix_micros> have;
    for (size_t i = 0; i < 5; ++i) {
      want.insert(rows[i].start);
      have.insert(got->at(i).start);
      CHECK(got->at(i).linkedid == "1796114776.62");
    }
    CHECK(have == want);
    auto all = db->calls_between(0, last_row + 3600 * second);
    REQUIRE(all);
    CHECK(all->size() == rows.size());
    auto latest = db->latest_end();
    REQUIRE(latest);
    CHECK(*latest == rows[4].start + rows[4].duration * second);
    auto none = db->calls_between(last_row + 60 * second,
                                  last_row + 120 * second);
    REQUIRE(none);
    CHECK(none->empty());
  }
}

TEST_CASE("CDR database failures are outages that name no password",
          "[cdr][mysql]") {
  auto url = test::mysql_url_or_skip("CDR database failures");
  if (url.empty())
    return;
  cdr::open_options options;
  options.password = "s3cret-Pa55";
  options.connect_timeout = std::chrono::seconds{2};
  // root has no password: a wrong one is refused.
  auto refused = cdr::database::open(url, options);
  REQUIRE_FALSE(refused);
  CHECK(code_of(refused.error()) == ec::database_unavailable);
  auto text = caf::to_string(refused.error());
  CHECK(text.find("s3cret-Pa55") == std::string::npos);
  // Nobody listens on port 1.
  auto gone = cdr::database::open("mysql://root@127.0.0.1:1/asteriskcdrdb",
                                  options);
  REQUIRE_FALSE(gone);
  CHECK(code_of(gone.error()) == ec::database_unavailable);
  // Bad input is refused before any connection.
  auto bad = cdr::database::open("postgresql://x@y/z", options);
  REQUIRE_FALSE(bad);
  CHECK(code_of(bad.error()) == ec::invalid);
  cdr::open_options bad_tz;
  bad_tz.timezone = "UTC'; DROP TABLE cdr; --";
  auto injected = cdr::database::open(url, bad_tz);
  REQUIRE_FALSE(injected);
  CHECK(code_of(injected.error()) == ec::invalid);
}

TEST_CASE("the CDR URL becomes SOCI's connect string", "[cdr]") {
  cdr::open_options options;
  options.password = "p w'x";
  auto s = cdr::connect_string("mysql://freepbx@10.0.0.5:3307/asteriskcdrdb",
                               options);
  REQUIRE(s);
  CHECK(s->find("db='asteriskcdrdb'") != std::string::npos);
  CHECK(s->find("user='freepbx'") != std::string::npos);
  CHECK(s->find("host='10.0.0.5'") != std::string::npos);
  CHECK(s->find("port='3307'") != std::string::npos);
  CHECK(s->find("password='p w\\'x'") != std::string::npos);
  auto from_url
      = cdr::connect_string("mysql://u:inurl@h/db", cdr::open_options{});
  REQUIRE(from_url);
  CHECK(from_url->find("password='inurl'") != std::string::npos);
  CHECK_FALSE(cdr::connect_string("mysql://h/db", options));
  CHECK_FALSE(cdr::connect_string("mysql://u@h/", options));
}
