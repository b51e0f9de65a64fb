// Time zones with daylight saving time from the system's tzdata: local times
// on both sides of 2026's changes, the skipped and the repeated hour, the
// TZ rule after the file's last transition, bad names and files.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "core/time.hpp"
#include "core/time_zone.hpp"
#include "tests/fixtures/temp_dir.hpp"

using namespace sb;

namespace {

std::shared_ptr<const time_zone> zone(const std::string& name) {
  auto z = time_zone::load(name);
  if (!z)
    FAIL(name << ": " << describe(z.error()));
  return *z;
}

std::string utc(const time_zone& z, const std::string& local) {
  auto t = parse_local_time(local, z);
  REQUIRE(t);
  return iso8601_utc(*t);
}

int64_t at(const std::string& iso) {
  auto t = parse_iso8601(iso);
  REQUIRE(t);
  return *t / 1000000;
}

/// A TZif version 2 file with no transitions and only a footer rule (what
/// zic's "slim" output looks like for a zone whose rules never changed).
std::string footer_only_tzif(const std::string& rule) {
  auto header = [](uint32_t typecnt, uint32_t charcnt) {
    std::string h = "TZif2";
    h.append(15, '\0');
    for (uint32_t v : {0U, 0U, 0U, 0U, typecnt, charcnt})
      for (int shift : {24, 16, 8, 0})
        h.push_back(static_cast<char>((v >> shift) & 0xff));
    return h;
  };
  std::string type{"\xff\xff\xb9\xb0\x00\x00", 6}; // -18000, std, "EST"
  std::string out = header(1, 4) + type + std::string{"EST\0", 4};
  out += header(1, 4) + type + std::string{"EST\0", 4};
  out += "\n" + rule + "\n";
  return out;
}

} // namespace

TEST_CASE("time zones: America/New_York across both 2026 changes") {
  auto ny = zone("America/New_York");
  // Spring forward, 8 March 2026 02:00 EST -> 03:00 EDT.
  CHECK(utc(*ny, "2026-03-08 01:59:59") == "2026-03-08T06:59:59Z");
  CHECK(utc(*ny, "2026-03-08 03:00:00") == "2026-03-08T07:00:00Z");
  // 02:30 does not exist: moved on by the gap (03:30 EDT).
  CHECK(utc(*ny, "2026-03-08 02:30:00") == "2026-03-08T07:30:00Z");
  CHECK(utc(*ny, "2026-07-01 12:00:00") == "2026-07-01T16:00:00Z");
  // Fall back, 1 November 2026 02:00 EDT -> 01:00 EST.
  CHECK(utc(*ny, "2026-11-01 00:59:59") == "2026-11-01T04:59:59Z");
  // 01:00..01:59 happens twice: the first pass (EDT).
  CHECK(utc(*ny, "2026-11-01 01:30:00") == "2026-11-01T05:30:00Z");
  CHECK(utc(*ny, "2026-11-01 01:59:59") == "2026-11-01T05:59:59Z");
  CHECK(utc(*ny, "2026-11-01 02:00:00") == "2026-11-01T07:00:00Z");
  CHECK(utc(*ny, "2026-12-01 09:00:00") == "2026-12-01T14:00:00Z");
  // Past the file's transitions (2037) the footer's rule carries on.
  CHECK(utc(*ny, "2040-07-01 12:00:00") == "2040-07-01T16:00:00Z");
  CHECK(utc(*ny, "2040-12-01 12:00:00") == "2040-12-01T17:00:00Z");
  CHECK(ny->offset_at(at("2026-03-08T06:59:59Z")) == -5 * 3600);
  CHECK(ny->offset_at(at("2026-03-08T07:00:00Z")) == -4 * 3600);
  CHECK(ny->offset_at(at("2026-11-01T05:59:59Z")) == -4 * 3600);
  CHECK(ny->offset_at(at("2026-11-01T06:00:00Z")) == -5 * 3600);
}

TEST_CASE("time zones: Europe/London and Australia/Sydney (daylight time "
          "across the new year)") {
  auto london = zone("Europe/London");
  // 29 March 2026 01:00 GMT -> 02:00 BST.
  CHECK(utc(*london, "2026-03-29 00:59:59") == "2026-03-29T00:59:59Z");
  CHECK(utc(*london, "2026-03-29 01:30:00") == "2026-03-29T01:30:00Z");
  CHECK(utc(*london, "2026-03-29 02:00:00") == "2026-03-29T01:00:00Z");
  CHECK(utc(*london, "2026-06-15 09:00:00") == "2026-06-15T08:00:00Z");
  // 25 October 2026 02:00 BST -> 01:00 GMT.
  CHECK(utc(*london, "2026-10-25 00:59:59") == "2026-10-24T23:59:59Z");
  CHECK(utc(*london, "2026-10-25 01:30:00") == "2026-10-25T00:30:00Z");
  CHECK(utc(*london, "2026-10-25 02:00:00") == "2026-10-25T02:00:00Z");
  auto sydney = zone("Australia/Sydney");
  CHECK(utc(*sydney, "2026-01-15 12:00:00") == "2026-01-15T01:00:00Z");
  CHECK(utc(*sydney, "2026-04-05 02:30:00") == "2026-04-04T15:30:00Z");
  CHECK(utc(*sydney, "2026-04-05 03:00:00") == "2026-04-04T17:00:00Z");
  CHECK(utc(*sydney, "2026-10-04 02:30:00") == "2026-10-03T16:30:00Z");
  CHECK(utc(*sydney, "2026-10-04 03:00:00") == "2026-10-03T16:00:00Z");
}

TEST_CASE("time zones: fixed offsets and zones without daylight time") {
  CHECK(utc(*zone("Asia/Kolkata"), "2026-11-21 10:00:00")
        == "2026-11-21T04:30:00Z");
  CHECK(utc(*zone("+05:30"), "2026-11-21 10:00:00") == "2026-11-21T04:30:00Z");
  CHECK(utc(*zone("-04:00"), "2026-11-21 10:00:00") == "2026-11-21T14:00:00Z");
  CHECK(utc(*zone("UTC"), "2026-11-21 10:00:00") == "2026-11-21T10:00:00Z");
  CHECK_FALSE(parse_local_time("", *zone("UTC")));
  CHECK_FALSE(parse_local_time("2026-13-01 10:00:00", *zone("UTC")));
}

TEST_CASE("time zones: the file's rule equals the footer's for every hour") {
  auto ny = zone("America/New_York");
  auto rule = time_zone::posix_rule::parse("EST5EDT,M3.2.0,M11.1.0");
  REQUIRE(rule);
  for (auto start : {at("2026-01-01T00:00:00Z"), at("2036-01-01T00:00:00Z")})
    for (int64_t t = start; t < start + 366 * 86400; t += 1800) {
      INFO(iso8601_utc(t * 1000000));
      REQUIRE(ny->offset_at(t) == rule->offset_at(t));
    }
  auto lon = time_zone::posix_rule::parse("GMT0BST,M3.5.0/1,M10.5.0");
  REQUIRE(lon);
  CHECK(lon->offset_at(at("2026-03-29T00:59:59Z")) == 0);
  CHECK(lon->offset_at(at("2026-03-29T01:00:00Z")) == 3600);
  CHECK(lon->offset_at(at("2026-10-25T00:59:59Z")) == 3600);
  CHECK(lon->offset_at(at("2026-10-25T01:00:00Z")) == 0);
  auto ist = time_zone::posix_rule::parse("<+0530>-5:30");
  REQUIRE(ist);
  CHECK(ist->offset_at(0) == 19800);
  for (auto bad : {"", "E5", "EST", "EST5EDT,M13.1.0,M11.1.0",
                   "EST5EDT,M3.2.0", "EST5EDT,M3.2.0,M11.1.0,x"})
    CHECK_FALSE(time_zone::posix_rule::parse(bad));
}

TEST_CASE("time zones: a footer-only TZif file, bad names and bad files") {
  sb::test::scratch_dir dir{"sb-tz"};
  std::filesystem::create_directories(dir.path() / "Test");
  {
    std::ofstream f{dir.path() / "Test" / "Slim", std::ios::binary};
    f << footer_only_tzif("EST5EDT,M3.2.0,M11.1.0");
    std::ofstream g{dir.path() / "Test" / "Broken", std::ios::binary};
    g << "TZif2 but nothing after it";
  }
  auto* old = std::getenv("TZDIR");
  std::string saved = old != nullptr ? old : "";
  ::setenv("TZDIR", dir.path().c_str(), 1);
  auto slim = time_zone::load("Test/Slim");
  auto broken = time_zone::load("Test/Broken");
  auto missing = time_zone::load("Test/Missing");
  if (old != nullptr)
    ::setenv("TZDIR", saved.c_str(), 1);
  else
    ::unsetenv("TZDIR");
  REQUIRE(slim);
  CHECK(utc(**slim, "2026-03-08 02:30:00") == "2026-03-08T07:30:00Z");
  CHECK(utc(**slim, "2026-11-01 01:30:00") == "2026-11-01T05:30:00Z");
  CHECK(utc(**slim, "2026-12-01 09:00:00") == "2026-12-01T14:00:00Z");
  REQUIRE_FALSE(broken);
  CHECK(describe(broken.error()).find("Test/Broken") != std::string::npos);
  REQUIRE_FALSE(missing);
  CHECK(describe(missing.error()).find("tzdata") != std::string::npos);
  for (auto bad : {"../../etc/passwd", "/etc/localtime", "America//New_York",
                   "America/New York", "Nowhere/City", ""})
    CHECK_FALSE(time_zone::load(bad));
}

TEST_CASE("time zones: one zone object serves many threads") {
  std::vector<std::thread> threads;
  std::vector<std::string> got(8);
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&got, i] {
      auto z = time_zone::get(i % 2 == 0 ? "America/New_York"
                                         : "Europe/London");
      if (!z)
        return;
      for (int k = 0; k < 1000; ++k)
        got[i] = iso8601_utc(*parse_local_time("2026-11-01 01:30:00", **z));
    });
  for (auto& t : threads)
    t.join();
  for (size_t i = 0; i < got.size(); ++i)
    CHECK(got[i]
          == (i % 2 == 0 ? "2026-11-01T05:30:00Z" : "2026-11-01T01:30:00Z"));
}
