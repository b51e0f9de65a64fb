// What the CDR catch-up learns from the tracker: every re-sync yields one gap
// in the PBX's clock (from the last event's Timestamp before the loss to the
// re-sync's, with the calls still up), the first one after start-up says
// so; and MixMonitor's MIXMONITOR_FILENAME gives the call's recording.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "adapters/ami/codec.hpp"
#include "adapters/ami/live_channels.hpp"
#include "domain/call_correlator.hpp"
#include "domain/ami_fields.hpp"
#include "messages/ami_interest.hpp"
#include "tests/fixtures/capture.hpp"

using namespace sb;

namespace {

constexpr unix_micros second = 1'000'000;
const char* dev01 = "dev-01-inbound-answered-caller-hangup";

std::vector<completed_call> run(call_correlator& c,
                                const std::vector<ami_event>& events) {
  std::vector<completed_call> out;
  for (const auto& e : events)
    c.on_event(e, out);
  return out;
}

/// The PBX's CoreShowChannels answer after it lived through events[0, upto).
std::vector<ami_event> resync_answer(const std::vector<ami_event>& events,
                                     size_t upto, bool first_clock = false) {
  ami::live_channels table;
  if (first_clock)
    table.start_clock(
        std::strtod(std::string{events.front().get("Timestamp")}.c_str(),
                    nullptr));
  for (size_t i = 0; i < upto; ++i)
    table.apply(events[i].text);
  auto wire = table.core_show_channels("resync-1");
  std::vector<ami_event> result;
  ami::frame_splitter splitter{1 << 20};
  splitter.expect_banner(false);
  splitter.feed(
      wire, [](std::string_view) {},
      [&](std::string_view frame) {
        ami_event e;
        if (ami::parse_frame(frame, e) && !e.name().empty()) {
          e.pbx = "default";
          e.received = events[upto == 0 ? 0 : upto - 1].received;
          result.push_back(std::move(e));
        }
      });
  return result;
}

size_t index_of(const std::vector<ami_event>& events, std::string_view name,
                std::string_view uniqueid = {}) {
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].name() == name
        && (uniqueid.empty() || events[i].get("Uniqueid") == uniqueid))
      return i;
  FAIL("no " << name << " event");
  return 0;
}

unix_micros stamp_of(const ami_event& e) {
  return ami_fields::parse_timestamp(e.get("Timestamp"));
}

std::vector<ami_event> slice(const std::vector<ami_event>& events, size_t from,
                             size_t to) {
  return {events.begin() + static_cast<ptrdiff_t>(from),
          events.begin() + static_cast<ptrdiff_t>(to)};
}

} // namespace

TEST_CASE("the re-sync at start-up is a start-up gap", "[tracker][cdr]") {
  auto events = test::load_capture(dev01);
  call_correlator c;
  auto answer = resync_answer(events, 0, true);
  REQUIRE(answer.size() == 1);
  run(c, answer);
  auto gaps = c.take_gaps();
  REQUIRE(gaps.size() == 1);
  CHECK(gaps[0].pbx == "default");
  CHECK(gaps[0].startup);
  CHECK(gaps[0].from == 0);
  CHECK(gaps[0].to == stamp_of(events.front()));
  CHECK(gaps[0].live.empty());
  CHECK(c.take_gaps().empty());
}

TEST_CASE("a loss gives a gap from the last event seen to the re-sync, in "
          "the PBX's clock",
          "[tracker][cdr]") {
  auto events = test::load_capture(dev01);
  SECTION("the call ended in the gap") {
    auto cut = index_of(events, "BridgeEnter", "1795298998.0") + 1;
    call_correlator c;
    run(c, slice(events, 0, cut));
    // switchboard's clock is far from the PBX's: the gap is the PBX's.
    c.on_connection_lost("default", 42 * second);
    run(c, resync_answer(events, events.size()));
    auto gaps = c.take_gaps();
    REQUIRE(gaps.size() == 1);
    CHECK_FALSE(gaps[0].startup);
    CHECK(gaps[0].from == stamp_of(events[cut - 1]));
    // The PBX's clock at the re-sync: its last channel event (the trailing
    // Cdr comes 48 us later).
    CHECK(gaps[0].to > gaps[0].from);
    CHECK(gaps[0].to <= stamp_of(events.back()));
    CHECK(gaps[0].to > stamp_of(events.back()) - second);
    CHECK(gaps[0].live.empty());
  }
  SECTION("the call is still up at the re-sync") {
    auto cut = index_of(events, "DialBegin") + 1;
    auto resume = index_of(events, "HangupRequest");
    call_correlator c;
    run(c, slice(events, 0, cut));
    c.on_connection_lost("default", 42 * second);
    run(c, resync_answer(events, resume));
    auto gaps = c.take_gaps();
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0].from == stamp_of(events[cut - 1]));
    CHECK(gaps[0].live == std::vector<std::string>{"1795298998.0"});
  }
  SECTION("without Timestamp the gap's ends are left to the CDR") {
    test::capture_options options;
    options.keep_timestamps = false;
    auto plain = test::load_capture(dev01, options);
    auto cut = index_of(plain, "BridgeEnter", "1795298998.0") + 1;
    call_correlator c;
    run(c, slice(plain, 0, cut));
    c.on_connection_lost("default", 42 * second);
    run(c, resync_answer(plain, plain.size()));
    auto gaps = c.take_gaps();
    REQUIRE(gaps.size() == 1);
    CHECK_FALSE(gaps[0].startup);
    CHECK(gaps[0].from == 0);
    CHECK(gaps[0].to == 0);
  }
}

TEST_CASE("MIXMONITOR_FILENAME gives the call's recording and its URL",
          "[tracker][recording]") {
  auto events = test::load_capture(dev01);
  auto at = index_of(events, "BridgeEnter", "1795298998.0");
  std::string frame
      = "Event: VarSet\r\nPrivilege: dialplan,all\r\n"
        "Channel: PJSIP/trunk-pstn-00000000\r\nVariable: MIXMONITOR_FILENAME"
        "\r\nValue: /var/spool/asterisk/monitor/2026/11/21/"
        "external-1001-442079460123-20261121-220958-1795298998.0.wav\r\n"
        "Uniqueid: 1795298998.0\r\nLinkedid: 1795298998.0";
  CHECK(tracker_reads_varset(frame + "\r\n"));
  CHECK_FALSE(tracker_reads_varset(
      "Event: VarSet\r\nVariable: DIALSTATUS\r\nValue: ANSWER\r\n"));
  ami_event varset;
  REQUIRE(ami::parse_frame(frame, varset));
  varset.pbx = "default";
  varset.received = events[at].received;
  events.insert(events.begin() + static_cast<ptrdiff_t>(at), varset);
  pbx_config pbx;
  pbx.name = "default";
  pbx.recording_url = "https://pbx.example/rec/{file}";
  call_correlator c{{pbx}};
  auto out = run(c, events);
  c.finalize_stale(to_unix_micros(events.back().received) + 10 * second, out);
  REQUIRE(out.size() == 1);
  auto file = "external-1001-442079460123-20261121-220958-1795298998.0.wav";
  CHECK(out[0].recording == file);
  CHECK(out[0].recording_url == std::string{"https://pbx.example/rec/"} + file);
  // Without a template only the file; without MixMonitor nothing.
  call_correlator plain;
  auto none = run(plain, test::load_capture(dev01));
  plain.finalize_stale(to_unix_micros(events.back().received) + 10 * second,
                       none);
  REQUIRE(none.size() == 1);
  CHECK(none[0].recording.empty());
  CHECK(none[0].recording_url.empty());
}
