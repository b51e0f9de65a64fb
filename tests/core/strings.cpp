#include <catch2/catch.hpp>

#include "core/base64.hpp"
#include "core/db_url.hpp"
#include "core/percent.hpp"
#include "core/strings.hpp"

TEST_CASE("string helpers are ASCII-only and exact") {
  CHECK(sb::trim("  a b \t\r\n") == "a b");
  CHECK(sb::trim(" \t ").empty());
  CHECK(sb::lower("AbC-Ä") == "abc-Ä");
  CHECK(sb::upper("abc") == "ABC");
  CHECK(sb::iequals("Linkedid", "LINKEDID"));
  CHECK_FALSE(sb::iequals("Linkedid", "Linkedi"));
  CHECK(sb::starts_with("from-pstn", "from-"));
  CHECK_FALSE(sb::starts_with("from", "from-"));
  CHECK(sb::istarts_with("SIP/trunk", "sip/"));
  CHECK(sb::ends_with("x.db", ".db"));
  CHECK(sb::replace_all("a-b-c", "-", "--") == "a--b--c");
  CHECK(sb::replace_all("abc", "", "x") == "abc");
}

TEST_CASE(
    "base64url round-trips; strict decoding refuses what it did not make") {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto enc = sb::base64url_encode(s);
    CHECK(enc.find('=') == std::string::npos);
    CHECK(sb::base64url_decode(enc) == s);
  }
  CHECK_FALSE(sb::base64url_decode("Zm9v="));
  CHECK_FALSE(sb::base64url_decode("Zm9v+"));
  CHECK_FALSE(sb::base64url_decode("Zh")); // non-zero padding bits
  CHECK(sb::base64_decode_lenient("eyJ4Ijox+/==")
        == std::string{"{\"x\":1\xfb"});
  CHECK_FALSE(sb::base64_decode_lenient("ab$c"));
}

TEST_CASE("database URLs lose their password and nothing else") {
  // The user, the password and the database may be the same word.
  CHECK(sb::redact_url("postgresql://crm:crm@db:5432/crm")
        == "postgresql://crm:***@db:5432/crm");
  CHECK(sb::redact_url("postgresql://db/crm?user=sb&password=hunter2")
        == "postgresql://db/crm?user=sb&password=***");
  CHECK(sb::redact_url("mysql://cdr:s3cret@pbx/asteriskcdrdb")
        == "mysql://cdr:***@pbx/asteriskcdrdb");
  CHECK(sb::redact_url("postgresql://sb@db/crm") == "postgresql://sb@db/crm");
  CHECK(sb::redact_url("sqlite:/var/lib/sb.db") == "sqlite:/var/lib/sb.db");
  CHECK(sb::url_password("postgresql://crm:pw@db/crm") == "pw");
  CHECK(sb::url_password("postgresql://db/crm?password=pw&x=1") == "pw");
  CHECK(sb::url_password("sqlite:x.db").empty());
  CHECK(sb::is_postgres_url("POSTGRES://db/x"));
  CHECK_FALSE(sb::is_postgres_url("mysql://db/x"));
}

TEST_CASE("percent-encoding: unreserved bytes kept, the rest as %XY; "
          "decoding undoes it and keeps malformed escapes") {
  CHECK(sb::percent_encode("a-b_c.d~e") == "a-b_c.d~e");
  CHECK(sb::percent_encode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9");
  for (std::string raw : {"", "x", "a b&c=d/é", "100%", "\r\n\t+"})
    CHECK(sb::percent_decode(sb::percent_encode(raw), false) == raw);
  CHECK(sb::percent_decode("a+b%2", true) == "a b%2");
  CHECK(sb::percent_decode("%zz%4", false) == "%zz%4");
  CHECK(sb::percent_decode("%41%6a", false) == "Aj");
  CHECK(sb::hex_digit_value('f') == 15);
  CHECK(sb::hex_digit_value('G') == -1);
}
