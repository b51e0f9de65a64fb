// CloudAgent's uneven answers and callback payloads, read by the adapter.

#include <catch2/catch.hpp>

#include "adapters/ozonetel/answer.hpp"
#include "adapters/ozonetel/callback.hpp"
#include "tests/fixtures/ozonetel_server.hpp"

using namespace sb::ozonetel;

TEST_CASE("answers: every documented status spelling") {
  SECTION("failures under status false / fail / Fail / fails / error") {
    for (auto status : {"false", "fail", "Fail", "fails", "error", "Error"}) {
      auto body = std::string{R"({"status":")"} + status
                  + R"(","message":"Agent is not available"})";
      auto r = interpret(api::manual_dial, 200, body);
      CHECK(r.what == outcome::rejected);
      CHECK(r.message == "Agent is not available");
      CHECK(r.status == status);
    }
  }
  SECTION("text under message, Message or details") {
    auto a = interpret(api::change_agent_state, 200,
                       R"({"status":"error","Message":"Agent X is in ACW state. You cant change to Pause state"})");
    CHECK(a.what == outcome::rejected);
    CHECK(a.message.find("ACW state") != std::string::npos);
    auto b = interpret(api::set_disposition, 200,
                       R"({"status":"Success","details":"Disposition saved successfully"})");
    CHECK(b.what == outcome::ok);
    CHECK(b.message == "Disposition saved successfully");
  }
  SECTION("JSON booleans") {
    CHECK(interpret(api::change_agent_state, 200, R"({"status":true})").what
          == outcome::ok);
    CHECK(interpret(api::change_agent_state, 200,
                    R"({"status":false,"message":"nope"})")
            .what
          == outcome::rejected);
  }
}

TEST_CASE("answers: dispositions") {
  auto queued = interpret(api::set_disposition, 200,
                          R"({"status":"Success","message":"Disposition Queued Successfully"})");
  CHECK(queued.what == outcome::accepted);
  CHECK(queued.ok());
  // "already Disposed" is done, not an error, whatever the status says.
  auto again = interpret(api::set_disposition, 200,
                         R"({"status":"false","message":"This call is already Disposed."})");
  CHECK(again.what == outcome::already_done);
  CHECK(again.ok());
  // Also as a bare string or plain text.
  CHECK(interpret(api::set_disposition, 200, "\"This call is already Disposed.\"")
          .what
        == outcome::already_done);
  CHECK(interpret(api::set_disposition, 200, "Disposition Queued Successfully")
          .what
        == outcome::accepted);
}

TEST_CASE("answers: token problems are unauthorized, HTTP 401 or not") {
  CHECK(interpret(api::manual_dial, 200,
                  R"({"status": "false","message": "Token Expired","data": null})")
          .what
        == outcome::unauthorized);
  CHECK(interpret(api::manual_dial, 200,
                  R"({"status": "false","message": "Invalid Token","data": null})")
          .what
        == outcome::unauthorized);
  CHECK(interpret(api::manual_dial, 401, "").what == outcome::unauthorized);
  CHECK(interpret(api::manual_dial, 403, "<html>Forbidden</html>").what
        == outcome::unauthorized);
}

TEST_CASE("answers: transport and server failures") {
  CHECK(interpret(api::manual_dial, 0, "").what == outcome::network_error);
  auto r = interpret(api::manual_dial, 502, "<html>Bad Gateway</html>");
  CHECK(r.what == outcome::server_error);
  CHECK(transient(r.what));
  auto html = interpret(api::change_agent_state, 200, "<html><body>oops");
  CHECK(html.what == outcome::malformed);
  CHECK(html.message == "<html><body>oops");
}

TEST_CASE("answers: the dial's UCID and the agent's state") {
  auto dial = interpret(api::manual_dial, 200,
                        R"({"ucid":"9100000000000123","status":"queued successfully"})");
  CHECK(dial.what == outcome::ok);
  CHECK(dial.ucid == "9100000000000123");
  // An object under `message` is read too.
  auto nested = interpret(api::change_agent_state, 200,
                          R"({"status":"success","message":{"AgentId":"a1","AgentStatus":"ACW"}})");
  CHECK(nested.agent_state == "ACW");
  // changeAgentState nests its JSON in a string.
  auto change = interpret(
    api::change_agent_state, 200,
    R"({"status":"success","message":"{\"type\":\"response\",\"agentStatus\":\"PAUSED\",\"agentId\":\"a1\"}"})");
  CHECK(change.what == outcome::ok);
  CHECK(change.agent_state == "PAUSED");
}

TEST_CASE("answers: tokens, JWT expiry and secrets kept out of raw") {
  auto payload = sb::test::ozonetel_server::base64url(
    R"({"userName":"acme","exp":1893456000})");
  auto jwt = sb::test::ozonetel_server::base64url(R"({"alg":"HS256"})") + "."
             + payload + ".c2lnbmF0dXJl";
  CHECK(jwt_expiry(jwt) == 1893456000);
  CHECK(jwt_expiry("not-a-jwt") == 0);
  auto no_exp = sb::test::ozonetel_server::base64url(R"({"alg":"HS256"})")
                + "." + sb::test::ozonetel_server::base64url(R"({"a":1})")
                + ".c2ln";
  CHECK(jwt_expiry(no_exp) == 0);

  auto r = interpret(api::generate_token, 200,
                     R"({"status":"success","token":")" + jwt + "\"}");
  CHECK(r.what == outcome::ok);
  CHECK(r.token == jwt);
  CHECK(r.token_expires_at == 1893456000);
  CHECK(r.raw.find(jwt) == std::string::npos);
  CHECK(r.raw.find("***") != std::string::npos);

  auto no_token = interpret(api::generate_token, 200, R"({"status":"success"})");
  CHECK(no_token.what == outcome::malformed);
}

TEST_CASE("redact removes keys, literals, JWTs and form pairs") {
  auto json = redact(R"({"Apikey":"K123456","nested":{"api_key":"K123456"},"ok":"fine"})");
  CHECK(json.find("K123456") == std::string::npos);
  CHECK(json.find("fine") != std::string::npos);
  auto text = redact("error for key SECRETKEY42 here", {"SECRETKEY42"});
  CHECK(text == "error for key *** here");
  auto form = redact("userName=acme&apiKey=SECRETKEY42&action=login");
  CHECK(form.find("SECRETKEY42") == std::string::npos);
  CHECK(form.find("action=login") != std::string::npos);
  auto jwtish = redact("Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2lnbmF0dXJlMTIz");
  CHECK(jwtish == "Bearer ***");
  auto cut = redact(std::string(10000, 'x'), {}, 100);
  CHECK(cut.size() == 103);
}

TEST_CASE("callback: form field data, Apikey removed") {
  sb::test::ozonetel_server::options opts;
  sb::test::ozonetel_server fake{opts};
  auto form = fake.callback_form({{"monitorUCID", "9100000000000777"},
                                  {"CallerID", "+919845012345"},
                                  {"Did", "918000011111"},
                                  {"CampaignName", "Inbound_Sales"},
                                  {"AgentID", "agent007"},
                                  {"StartTime", "2026-11-21 10:00:00"},
                                  {"EndTime", "2026-11-21 10:02:05"},
                                  {"Duration", "00:02:05"},
                                  {"CallDuration", "00:01:40"},
                                  {"Status", "Answered"},
                                  {"DialStatus", "answered"},
                                  {"Type", "InBound"},
                                  {"Disposition", ""},
                                  {"AudioFile", "https://rec.example/x.mp3"}});
  // CloudAgent sends its Apikey along; the parsed payload must not keep it.
  REQUIRE(form.find(opts.api_key) != std::string::npos);
  auto parsed = parse_callback_form(form);
  REQUIRE(parsed.ok);
  auto& d = parsed.details;
  CHECK(d.ucid == "9100000000000777");
  CHECK(d.caller_id == "+919845012345");
  CHECK(d.duration_seconds == 125);
  CHECK(d.call_duration_seconds == 100);
  CHECK(d.inbound);
  CHECK(d.answered);
  CHECK(d.agent_id == "agent007");
  CHECK(d.sanitized_json.find("Apikey") == std::string::npos);
  CHECK(d.sanitized_json.find(opts.api_key) == std::string::npos);
  CHECK(d.sanitized_json.find("9100000000000777") != std::string::npos);

  auto manual = parse_callback_json(
    R"({"monitorUCID":"1","Type":"Manual","Status":"NotAnswered","DialStatus":"busy","apiKey":"x"})");
  REQUIRE(manual.ok);
  CHECK_FALSE(manual.details.inbound);
  CHECK_FALSE(manual.details.answered);
  CHECK(manual.details.sanitized_json.find("apiKey") == std::string::npos);
}

TEST_CASE("callback: refusals") {
  CHECK_FALSE(parse_callback_form("other=1").ok);
  CHECK_FALSE(parse_callback_form("data=not-json").ok);
  auto no_ucid = parse_callback_json(R"({"CallerID":"1","Apikey":"K"})");
  CHECK_FALSE(no_ucid.ok);
  CHECK(no_ucid.error.find("monitorUCID") != std::string::npos);
  CHECK(parse_hms("01:02:03") == 3723);
  CHECK(parse_hms("42") == 42);
  CHECK(parse_hms("x") == 0);
}
