// The HTTP helpers that need no server: tokens, cursors, JSON field reading,
// the customer CSV format.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include "core/base64.hpp"
#include "core/time.hpp"
#include "http/auth.hpp"
#include "http/cursor.hpp"
#include "http/json.hpp"
#include "http/router.hpp"

using namespace sb::http;

TEST_CASE("constant_time_equals compares content and length") {
  CHECK(constant_time_equals("secret-token", "secret-token"));
  CHECK_FALSE(constant_time_equals("secret-token", "secret-tokex"));
  CHECK_FALSE(constant_time_equals("secret-token", "secret-token2"));
  CHECK_FALSE(constant_time_equals("secret-token", "secret-toke"));
  CHECK_FALSE(constant_time_equals("", "x"));
  CHECK(constant_time_equals("", ""));
  // A prefix padded with NUL is still different (length counts).
  CHECK_FALSE(constant_time_equals(std::string_view{"ab\0", 3}, "ab"));
}

TEST_CASE("bearer_token extracts the token of the Bearer scheme only") {
  CHECK(bearer_token("Bearer abc") == "abc");
  CHECK(bearer_token("bearer   abc  ") == "abc");
  CHECK(bearer_token("BEARER abc") == "abc");
  CHECK(bearer_token("Basic abc").empty());
  CHECK(bearer_token("Bearer").empty());
  CHECK(bearer_token("Bearerabc").empty());
  CHECK(bearer_token("").empty());
}

TEST_CASE("authenticator grants by scope") {
  authenticator auth{"full-token", "read-token"};
  CHECK(auth.check("Bearer full-token", scope::write) == auth_outcome::granted);
  CHECK(auth.check("Bearer full-token", scope::read) == auth_outcome::granted);
  CHECK(auth.check("Bearer read-token", scope::read) == auth_outcome::granted);
  CHECK(auth.check("Bearer read-token", scope::write)
        == auth_outcome::forbidden);
  CHECK(auth.check("Bearer other", scope::read) == auth_outcome::invalid);
  CHECK(auth.check("", scope::read) == auth_outcome::missing);
  CHECK(auth.check("Basic Zm9vOmJhcg==", scope::read) == auth_outcome::missing);
  CHECK(auth.check("", scope::none) == auth_outcome::granted);

  authenticator read_only{"", "read-token"};
  CHECK(read_only.check("Bearer read-token", scope::read)
        == auth_outcome::granted);
  CHECK(read_only.check("Bearer read-token", scope::write)
        == auth_outcome::forbidden);
  // An empty configured token must never match an empty presented one.
  CHECK(read_only.check_token("", scope::write) == auth_outcome::missing);

  authenticator none;
  CHECK_FALSE(none.enabled());
  CHECK(none.check("Bearer anything", scope::read) == auth_outcome::disabled);
  CHECK(none.check("", scope::none) == auth_outcome::granted);
}

TEST_CASE("cursors round-trip and reject what the server did not issue") {
  comms_cursor c{"2026-11-21T22:09:58Z", 42};
  auto text = encode_cursor(c);
  CHECK(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
                               "uvwxyz0123456789-_")
        == std::string::npos);
  auto back = decode_cursor(text);
  REQUIRE(back);
  CHECK(back->occurred_at == c.occurred_at);
  CHECK(back->id == 42);
  CHECK_FALSE(decode_cursor(""));
  CHECK_FALSE(decode_cursor("not a cursor"));
  CHECK_FALSE(decode_cursor(sb::base64url_encode("c1|2026-01-01T00:00:00Z|0")));
  CHECK_FALSE(
      decode_cursor(sb::base64url_encode("c1|2026-01-01T00:00:00Z|x1")));
  CHECK_FALSE(decode_cursor(sb::base64url_encode("c2|2026-01-01T00:00:00Z|1")));
  CHECK_FALSE(decode_cursor(sb::base64url_encode("c1||1")));
  CHECK_FALSE(decode_cursor(text + "A"));
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto enc = sb::base64url_encode(s);
    auto dec = sb::base64url_decode(enc);
    REQUIRE(dec);
    CHECK(*dec == s);
  }
}

TEST_CASE("route templates become anchored regexes with one group per {}") {
  CHECK(router::pattern_of("/api/crm/customers/{id}")
        == "/api/crm/customers/([^/]+)");
  CHECK(router::pattern_of("/api/ozonetel/calls/{ucid}/events")
        == "/api/ozonetel/calls/([^/]+)/events");
  CHECK(router::pattern_of("/a.b") == "/a\\.b");
}

TEST_CASE("field_reader names the first bad field") {
  rapidjson::Document doc;
  doc.Parse(R"({"a": 1, "b": "x", "c": 1.5, "d": "12", "e": -3, "n": null})");
  REQUIRE(doc.IsObject());
  {
    field_reader in{doc};
    CHECK(in.integer("a", true) == 1);
    CHECK(in.string("b", true) == std::string{"x"});
    CHECK_FALSE(in.string("missing", false));
    CHECK_FALSE(in.integer("n", false));
    CHECK(in.ok());
  }
  {
    field_reader in{doc};
    CHECK_FALSE(in.integer("c", true));
    CHECK(in.field() == "c");
    CHECK(in.problem() == "must be an integer");
    // The first problem is kept.
    in.integer("d", true);
    CHECK(in.field() == "c");
  }
  {
    field_reader in{doc};
    CHECK_FALSE(in.integer("d", true));
    CHECK(in.field() == "d");
  }
  {
    field_reader in{doc};
    CHECK_FALSE(in.integer("e", true, 0));
    CHECK(in.problem() == "must be between 0 and 9223372036854775807");
  }
  {
    field_reader in{doc};
    CHECK_FALSE(in.string("n", true));
    CHECK(in.problem() == "is required");
    CHECK_FALSE(in.ok());
  }
  {
    field_reader in{doc};
    CHECK_FALSE(in.string("b", true, 0));
    CHECK(in.field() == "b");
  }
}

TEST_CASE("error bodies are JSON with error and message") {
  auto body = error_body("invalid_field", "direction must be \"inbound\"");
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  REQUIRE(doc.IsObject());
  CHECK(std::string{doc["error"].GetString()} == "invalid_field");
  CHECK(std::string{doc["message"].GetString()}
        == "direction must be \"inbound\"");
}

TEST_CASE("iso8601_utc renders unix micros as ISO-8601") {
  CHECK(sb::iso8601_utc(0) == "1970-01-01T00:00:00Z");
  CHECK(sb::iso8601_utc(1795298998000000LL) == "2026-11-21T22:09:58Z");
  CHECK(sb::iso8601_utc(1795298998999999LL) == "2026-11-21T22:09:58Z");
}
