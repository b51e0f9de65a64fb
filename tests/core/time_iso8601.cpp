// ISO-8601 at the edges of the four-digit year.

#include <catch2/catch.hpp>

#include "core/time.hpp"

TEST_CASE("parse_iso8601 refuses UTC times outside the years 0001..9999") {
  // An offset can push a valid-looking local time out of range.
  CHECK_FALSE(sb::parse_iso8601("9999-12-31T23:30:00-01:00"));
  CHECK_FALSE(sb::parse_iso8601("0001-01-01T00:30:00+01:00"));
  CHECK_FALSE(sb::parse_iso8601("0000-06-01"));
  auto last = sb::parse_iso8601("9999-12-31T23:59:59Z");
  REQUIRE(last);
  CHECK(sb::iso8601_utc(*last) == "9999-12-31T23:59:59Z");
  auto pulled_in = sb::parse_iso8601("9999-12-31T23:30:00+01:00");
  REQUIRE(pulled_in);
  CHECK(sb::iso8601_utc(*pulled_in) == "9999-12-31T22:30:00Z");
  auto first = sb::parse_iso8601("0001-01-01T00:00:00Z");
  REQUIRE(first);
  CHECK(sb::iso8601_utc(*first) == "0001-01-01T00:00:00Z");
  auto pushed_in = sb::parse_iso8601("0001-01-01T00:30:00-01:00");
  REQUIRE(pushed_in);
  CHECK(sb::iso8601_utc(*pushed_in) == "0001-01-01T01:30:00Z");
  // The range is of the UTC time: a local year 0000 the offset moves into
  // 0001 is fine.
  auto from_zero = sb::parse_iso8601("0000-12-31T23:00:00-02:00");
  REQUIRE(from_zero);
  CHECK(sb::iso8601_utc(*from_zero) == "0001-01-01T01:00:00Z");
}
