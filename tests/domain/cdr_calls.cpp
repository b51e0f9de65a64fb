// Calls rebuilt from CDR rows alone (the catch-up after a gap): every
// capture's .cdr.csv gives its expected calls, field by field, as far as CDR
// rows can tell them (domain/cdr_calls.hpp says what they cannot).

#include "domain/cdr_calls.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>

#include "tests/fixtures/capture.hpp"
#include "tests/fixtures/cdr_support.hpp"

using namespace sb;

namespace {

bool within_1s(int64_t a, int64_t b) {
  return std::llabs(a - b) <= 1;
}

/// An unanswered click-to-call: its only row is the originated phone's
/// (`AppDial2`, `dst` s). The number it was for exists only in the Originate
/// action and its OriginateResponse, never in a CDR row, so neither its
/// number nor that it was outbound can be known.
bool unanswered_click_to_call(const std::vector<cdr_record>& rows,
                              const std::string& linkedid) {
  bool any = false;
  for (const auto& r : rows)
    if (r.linkedid == linkedid) {
      if (r.lastapp != "AppDial2")
        return false;
      any = true;
    }
  return any;
}

} // namespace

TEST_CASE("every capture's CDR rows give its calls", "[cdr][captures]") {
  pbx_config pbx;
  pbx.name = "pbx-a";
  pbx.recording_url = "https://pbx.example/rec/{file}";
  size_t calls = 0;
  size_t unknowable = 0;
  for (const auto& scenario : test::capture_scenarios()) {
    INFO("scenario " << scenario);
    auto expected = test::load_expected(scenario);
    auto rows = test::load_cdr_csv(scenario);
    auto got = calls_from_cdr(rows, pbx);
    std::map<std::string, completed_call> by_id;
    for (auto& c : got)
      by_id[c.ext_message_id] = c;
    CHECK(by_id.size() == got.size());
    REQUIRE(got.size() == expected.calls.size());
    for (const auto& x : expected.calls) {
      INFO("call " << x.linkedid);
      REQUIRE(by_id.count(x.linkedid) == 1);
      const auto& c = by_id[x.linkedid];
      ++calls;
      CHECK(c.source == "ami");
      CHECK(c.origin == "pbx-a");
      CHECK(c.recovered == "cdr");
      CHECK_FALSE(c.incomplete);
      if (unanswered_click_to_call(rows, x.linkedid)) {
        // Known only as the call of the phone that never answered.
        CHECK(c.direction == call_direction::internal);
        CHECK(c.external_number.empty());
        ++unknowable;
      } else {
        CHECK(to_string(c.direction) == std::string{to_string(x.direction)});
        CHECK(c.external_number == x.external_number);
      }
      CHECK(to_string(c.disposition) == std::string{to_string(x.disposition)});
      CHECK(c.extension == x.extension);
      if (x.direction == call_direction::internal)
        CHECK(c.peer_extension == x.peer_extension);
      INFO("duration " << c.duration_seconds << " billsec " << c.billsec
                       << " talk " << c.talk_seconds);
      CHECK(within_1s(c.duration_seconds, x.total_seconds));
      // A click-to-call's row bills from the agent's answer; when the
      // customer answered is only in the AMI stream (expected.json measures
      // it there), so the CDR's figure is at least the true one.
      if (x.billsec_rule == "ami_customer_answer_to_end")
        CHECK(c.billsec >= x.billsec - 1);
      else
        CHECK(within_1s(c.billsec, x.billsec));
      // Talk as the CDR tells it (the rows a person answered) is the
      // expected figure where expected.json takes it from the CDR too; the
      // second set measures multi-segment talk in the AMI stream.
      if (x.talk_rule.rfind("ami_", 0) != 0)
        CHECK(within_1s(c.talk_seconds, x.talk_seconds));
      CHECK(c.started_at == x.start);
      // FreePBX's table has no end column: calldate + duration, whose
      // whole seconds may end a second before Master.csv's `end`.
      CHECK(within_1s(c.ended_at / 1000000, x.end / 1000000));
    }
  }
  CHECK(calls > 100);
  CHECK(unknowable <= 4);
}

TEST_CASE("a CDR recording file gives the entry's recording and its URL",
          "[cdr]") {
  pbx_config pbx;
  pbx.name = "pbx-a";
  pbx.recording_url = "https://pbx.example/rec/{file}?x={file}";
  auto rows = test::load_cdr_csv("dev-07-outbound-answered");
  REQUIRE(rows.size() == 1);
  rows[0].recordingfile = "out-07700900456-1001-20261121-221127.wav";
  auto calls = calls_from_cdr(rows, pbx);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].recording == "out-07700900456-1001-20261121-221127.wav");
  CHECK(calls[0].recording_url
        == "https://pbx.example/rec/out-07700900456-1001-20261121-221127.wav"
           "?x=out-07700900456-1001-20261121-221127.wav");
  pbx.recording_url.clear();
  CHECK(calls_from_cdr(rows, pbx)[0].recording_url.empty());
  rows[0].recordingfile.clear();
  pbx.recording_url = "https://pbx.example/rec/{file}";
  auto none = calls_from_cdr(rows, pbx);
  CHECK(none[0].recording.empty());
  CHECK(none[0].recording_url.empty());
}
