#include <catch2/catch.hpp>

#include <caf/actor_system_config.hpp>
#include <caf/sec.hpp>

#include "core/backoff.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

using namespace std::chrono_literals;

TEST_CASE("ISO-8601 formats and parses the forms clients send") {
  CHECK(sb::iso8601_utc(0) == "1970-01-01T00:00:00Z");
  CHECK(sb::iso8601_utc(-1) == "1969-12-31T23:59:59Z");
  CHECK(sb::parse_iso8601("2026-11-21T22:09:58Z")
        == sb::unix_micros{1795298998000000});
  CHECK(sb::parse_iso8601("2026-11-21 23:09:58+01:00")
        == sb::unix_micros{1795298998000000});
  CHECK(sb::parse_iso8601("2026-11-21T22:09:58.5Z")
        == sb::unix_micros{1795298998500000});
  CHECK(sb::parse_iso8601("2026-11-21") == sb::unix_micros{1795219200000000});
  CHECK_FALSE(sb::parse_iso8601("2026-02-30"));
  CHECK_FALSE(sb::parse_iso8601("2026-11-21T25:00:00Z"));
  CHECK_FALSE(sb::parse_iso8601("yesterday"));
}

TEST_CASE("sb::ec errors carry their code and render once") {
  auto err = caf::make_error(sb::ec::database_unavailable,
                             std::string{"database unreachable: refused"});
  CHECK(sb::code_of(err) == sb::ec::database_unavailable);
  CHECK(sb::describe(err) == "database unreachable: refused");
  CHECK(sb::describe(caf::make_error(sb::ec::not_found)) == "not_found");
  CHECK(sb::code_of(caf::make_error(caf::sec::request_timeout))
        == sb::ec::none);
  CHECK(sb::describe(caf::make_error(caf::sec::request_timeout))
        == "request_timeout");
  for (auto x : {sb::ec::database_unavailable, sb::ec::rejected,
                 sb::ec::not_found, sb::ec::conflict, sb::ec::invalid,
                 sb::ec::upstream, sb::ec::timeout, sb::ec::unavailable}) {
    sb::ec back = sb::ec::none;
    REQUIRE(sb::from_string(sb::to_string(x), back));
    CHECK(back == x);
  }
  sb::ec unknown;
  CHECK_FALSE(sb::from_string("nope", unknown));
  caf::actor_system_config cfg;
  sb::add_error_category(cfg);
  auto renderer = cfg.error_renderers.find(caf::atom("sb"));
  REQUIRE(renderer != cfg.error_renderers.end());
  CHECK(renderer->second(static_cast<uint8_t>(sb::ec::conflict),
                         caf::atom("sb"), caf::make_message(std::string{"x"}))
        == "sb::conflict: x");
}

TEST_CASE("backoff doubles to its ceiling, jitters down only, and resets") {
  sb::backoff plain{1000ms, 30000ms};
  CHECK(plain.next() == 1000ms);
  CHECK(plain.next() == 2000ms);
  CHECK(plain.next() == 4000ms);
  for (int i = 0; i < 10; ++i)
    plain.next();
  CHECK(plain.next() == 30000ms);
  plain.reset();
  CHECK(plain.next() == 1000ms);
  sb::backoff jittered{1000ms, 30000ms, 0.25, 42};
  for (int i = 0; i < 8; ++i) {
    auto ceiling = jittered.peek();
    auto d = jittered.next();
    CHECK(d <= ceiling);
    CHECK(d.count() >= ceiling.count() * 3 / 4);
  }
}
