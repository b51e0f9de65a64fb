// CloudAgent's callback and answers as an attacker writes them: nesting
// that would overflow a recursive parser, numbers no int64 holds, escapes
// that decode to invalid UTF-8, durations that overflow.

#include <catch2/catch.hpp>

#include <limits>
#include <string>

#include "adapters/ozonetel/answer.hpp"
#include "adapters/ozonetel/callback.hpp"
#include "adapters/ozonetel/json_guard.hpp"
#include "core/base64.hpp"

using namespace sb::ozonetel;

namespace {

std::string nested(size_t levels, const std::string& inner = "1") {
  return "{\"monitorUCID\":\"1\",\"x\":" + std::string(levels, '[') + inner
         + std::string(levels, ']') + "}";
}

std::string jwt_with(const std::string& payload) {
  return sb::base64url_encode(R"({"alg":"HS256"})") + "."
         + sb::base64url_encode(payload) + ".c2ln";
}

} // namespace

TEST_CASE("callback: JSON nested 1 MiB deep is refused, not recursed into") {
  auto deep = nested(1u << 20);
  auto parsed = parse_callback_json(deep);
  CHECK_FALSE(parsed.ok);
  CHECK(parsed.malformed);
  CHECK(parsed.error.find("nested deeper than 64 levels") != std::string::npos);
  // The same through the form body, percent-encoded as CloudAgent sends it.
  auto form = parse_callback_form("data=" + std::string(1u << 20, '[')
                                  + std::string(1u << 20, ']'));
  CHECK_FALSE(form.ok);
  CHECK(form.malformed);
}

TEST_CASE("callback: nesting up to the limit is read, secrets removed at "
          "every depth") {
  std::string inner = R"({"Apikey":"k-secret-1","keep":1})";
  auto text = "{\"monitorUCID\":\"77\",\"x\":" + std::string(62, '[') + inner
              + std::string(62, ']') + "}";
  auto parsed = parse_callback_json(text);
  INFO(parsed.error);
  REQUIRE(parsed.ok);
  CHECK(parsed.details.ucid == "77");
  CHECK(parsed.details.sanitized_json.find("k-secret-1") == std::string::npos);
  CHECK(parsed.details.sanitized_json.find("\"keep\":1") != std::string::npos);
  CHECK_FALSE(parse_callback_json(nested(65)).ok);
}

TEST_CASE("callback: numbers outside int64 are refused, never cast") {
  for (const char* ucid : {"1e300", "-1e300", "9223372036854775808",
                           "18446744073709551615", "1.5", "-9.3e18"}) {
    INFO(ucid);
    auto parsed
        = parse_callback_json(std::string{R"({"monitorUCID":)"} + ucid + "}");
    CHECK_FALSE(parsed.ok);
    CHECK_FALSE(parsed.malformed);
    CHECK(parsed.error.find("monitorUCID") != std::string::npos);
    CHECK(parsed.details.ucid.find("-9223372036854775808")
          == std::string::npos);
  }
  auto big = parse_callback_json(R"({"monitorUCID":9223372036854775807})");
  REQUIRE(big.ok);
  CHECK(big.details.ucid == "9223372036854775807");
  auto as_double = parse_callback_json(R"({"monitorUCID":1.2e3})");
  REQUIRE(as_double.ok);
  CHECK(as_double.details.ucid == "1200");
}

TEST_CASE("callback: lone surrogates and invalid UTF-8 are refused") {
  for (const char* text :
       {R"({"monitorUCID":"1","CallerID":"\uDC00"})",
        R"({"monitorUCID":"1","CallerID":"\uD800"})",
        R"({"monitorUCID":"1","CallerID":"\uD800x"})",
        R"({"monitorUCID":"1","\uDFFF":"x"})",
        "{\"monitorUCID\":\"1\",\"CallerID\":\"\xC0\xAF\"}",
        "{\"monitorUCID\":\"1\",\"CallerID\":\"\xED\xA0\x80\"}"}) {
    INFO(text);
    auto parsed = parse_callback_json(text);
    CHECK_FALSE(parsed.ok);
    CHECK(parsed.malformed);
  }
  auto pair
      = parse_callback_json(R"({"monitorUCID":"1","CallerID":"\uD83D\uDCDE"})");
  REQUIRE(pair.ok);
  CHECK(pair.details.caller_id == "\xF0\x9F\x93\x9E");
}

TEST_CASE("parse_hms: overflow is unreadable, not negative") {
  CHECK(parse_hms("01:02:03") == 3723);
  CHECK(parse_hms("99999999999999999999") == 0);
  CHECK(parse_hms("9223372036854775807") == 9223372036854775807LL);
  // INT64_MAX exactly, then one past it in each position.
  CHECK(parse_hms("153722867280912930:07") == 9223372036854775807LL);
  CHECK(parse_hms("153722867280912930:08") == 0);
  CHECK(parse_hms("153722867280912931:00") == 0);
  CHECK(parse_hms("2562047788015216:00:00") == 0);
  CHECK(parse_hms(std::string(5000, '9')) == 0);
}

TEST_CASE("JWT claims: out-of-range times are absent, not INT64_MIN") {
  CHECK(jwt_claims(jwt_with(R"({"exp":1e300,"iat":1})")).expires_at == 0);
  CHECK(jwt_claims(jwt_with(R"({"exp":-1e300})")).expires_at == 0);
  CHECK(jwt_claims(jwt_with(R"({"exp":"99999999999999999999"})")).expires_at
        == 0);
  CHECK(jwt_claims(jwt_with(R"({"exp":1893456000.0})")).expires_at
        == 1893456000);
  CHECK(jwt_claims(jwt_with(R"({"exp":"1893456000"})")).expires_at
        == 1893456000);
  auto deep = jwt_with(std::string(100000, '[') + std::string(100000, ']'));
  CHECK(jwt_claims(deep).expires_at == 0);
}

TEST_CASE("CloudAgent answers nested too deep are malformed, not a crash") {
  std::string deep = R"({"status":"success","message":)"
                     + std::string(1u << 20, '[') + std::string(1u << 20, ']')
                     + "}";
  auto r = interpret(api::change_agent_state, 200, deep);
  CHECK(r.what == outcome::malformed);
  CHECK(r.message.find("nested deeper than 64 levels") != std::string::npos);
  // redact() of the same text must not recurse either.
  auto raw = redact(deep);
  CHECK(raw.size() <= 4096 + 3);
  // A JSON string inside `message` is parsed with the same guard.
  std::string inner_deep
      = R"({"status":"success","message":")" + std::string(100000, '[') + "\"}";
  auto state = interpret(api::change_agent_state, 200, inner_deep);
  CHECK(state.agent_state.empty());
}

TEST_CASE("json_depth counts brackets outside strings only") {
  CHECK(json_depth(R"({"a":"[[[[[[[["})") == 1);
  CHECK(json_depth(R"([[1],[2,[3]]])") == 3);
  CHECK(json_depth(R"({"a":"\"[[["})") == 1);
  CHECK(json_depth(std::string(1000, '['), 64) == 65);
}
