// Flows beyond single calls: two PBXes with colliding Linkedids, channels
// that change calls, and the re-sync after a login (CoreShowChannels) when
// the PBX did not resend what happened while the connection was down.

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "adapters/ami/codec.hpp"
#include "adapters/ami/live_channels.hpp"
#include "domain/call_correlator.hpp"
#include "tests/fixtures/capture.hpp"

using namespace sb;

namespace {

constexpr unix_micros second = 1'000'000;

std::vector<completed_call> run(call_correlator& c,
                                const std::vector<ami_event>& events) {
  std::vector<completed_call> out;
  for (auto& e : events)
    c.on_event(e, out);
  return out;
}

void sweep(call_correlator& c, const std::vector<ami_event>& events,
           std::vector<completed_call>& out) {
  c.finalize_stale(to_unix_micros(events.back().received) + 10 * second, out);
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

/// The PBX's answer to CoreShowChannels after it sent `sent` (and lived
/// through `lost`, which it never resends), parsed as the client receives
/// it, arriving at `at`.
std::vector<ami_event> resync_answer(const std::vector<ami_event>& events,
                                     size_t upto, caf::timestamp at,
                                     const std::string& pbx = "default") {
  ami::live_channels table;
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
          e.pbx = pbx;
          e.received = at;
          result.push_back(std::move(e));
        }
      });
  return result;
}

std::vector<ami_event> slice(const std::vector<ami_event>& events, size_t from,
                             size_t to) {
  return {events.begin() + static_cast<ptrdiff_t>(from),
          events.begin() + static_cast<ptrdiff_t>(to)};
}

const char* dev01 = "dev-01-inbound-answered-caller-hangup";

} // namespace

TEST_CASE("two PBXes with the same Linkedids give two calls, in either order",
          "[tracker][flows]") {
  // Both PBXes count Linkedids from their own start: replaying one capture
  // as two PBXes gives identical Linkedids.
  test::capture_options a;
  a.pbx = "pbx-a";
  test::capture_options b;
  b.pbx = "pbx-b";
  auto from_a = test::load_capture("dev-09-internal", a);
  auto from_b = test::load_capture(dev01, b);
  // dev-01's Uniqueids and Linkedid made to collide with dev-09's.
  auto rename
      = [](std::string& text, const std::string& from, const std::string& to) {
          for (size_t pos; (pos = text.find(from)) != std::string::npos;)
            text.replace(pos, from.size(), to);
        };
  for (auto& e : from_b) {
    auto text = e.text;
    rename(text, "1795298998.1", "1795299131.22");
    rename(text, "1795298998.0", "1795299131.21");
    auto received = e.received;
    REQUIRE(ami::parse_frame(text, e));
    e.pbx = "pbx-b";
    e.received = received;
  }
  for (bool a_first : {true, false}) {
    DYNAMIC_SECTION((a_first ? "pbx-a first" : "pbx-b first")) {
      std::vector<ami_event> merged;
      auto& x = a_first ? from_a : from_b;
      auto& y = a_first ? from_b : from_a;
      for (size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
        if (i < x.size())
          merged.push_back(x[i]);
        if (i < y.size())
          merged.push_back(y[i]);
      }
      call_correlator c;
      auto out = run(c, merged);
      c.finalize_stale(1'900'000'000 * second, out);
      REQUIRE(out.size() == 2);
      std::map<std::string, completed_call> by_origin;
      for (auto& call : out)
        by_origin[call.origin] = call;
      REQUIRE(by_origin.count("pbx-a") == 1);
      REQUIRE(by_origin.count("pbx-b") == 1);
      CHECK(by_origin["pbx-a"].ext_message_id
            == by_origin["pbx-b"].ext_message_id);
      CHECK(by_origin["pbx-a"].direction == call_direction::internal);
      CHECK(by_origin["pbx-b"].direction == call_direction::inbound);
      CHECK(by_origin["pbx-b"].external_number == "+442079460123");
      CHECK(by_origin["pbx-b"].billsec == 7);
      CHECK_FALSE(by_origin["pbx-a"].incomplete);
      CHECK_FALSE(by_origin["pbx-b"].incomplete);
    }
  }
}

TEST_CASE("park retriever and picking phone join the caller's call",
          "[tracker][flows]") {
  for (auto* name : {"dev-18-park-retrieve", "dev-19-pickup"}) {
    DYNAMIC_SECTION(name) {
      auto events = test::load_capture(name);
      call_correlator c;
      auto out = run(c, events);
      sweep(c, events, out);
      REQUIRE(out.size() == 1);
      CHECK(c.stats().calls_merged == 1);
      CHECK(c.stats().calls_started == 2);
      CHECK(c.live_count() == 0);
    }
  }
}

TEST_CASE("re-sync: a call still up after the reconnect is re-attached and "
          "ends as an ordinary call",
          "[tracker][flows][resync]") {
  auto events = test::load_capture(dev01);
  auto expected = test::load_expected(dev01).calls.at(0);
  // The connection drops after the DialBegin; the answer, both
  // BridgeEnters and the rest until the conversation ends are never resent.
  auto cut = index_of(events, "DialBegin") + 1;
  auto resume = index_of(events, "HangupRequest");
  call_correlator c;
  auto out = run(c, slice(events, 0, cut));
  auto lost_at = to_unix_micros(events[cut - 1].received);
  c.on_connection_lost("default", lost_at);
  auto answer = resync_answer(events, resume, events[resume - 1].received);
  // Both channels are listed, Up, in one bridge.
  REQUIRE(answer.size() == 3);
  CHECK(answer[0].get("BridgeId") == answer[1].get("BridgeId"));
  CHECK(answer[2].name() == "CoreShowChannelsComplete");
  CHECK(answer[2].get("ListItems") == "2");
  auto more = run(c, answer);
  CHECK(more.empty());
  REQUIRE(c.live_count() == 1);
  auto live = c.active();
  REQUIRE(live.size() == 1);
  CHECK(live[0].state == live_call_state::answered);
  more = run(c, slice(events, resume, events.size()));
  out.insert(out.end(), more.begin(), more.end());
  sweep(c, events, out);
  REQUIRE(out.size() == 1);
  auto& call = out[0];
  CHECK_FALSE(call.incomplete);
  CHECK(call.direction == call_direction::inbound);
  CHECK(call.external_number == expected.external_number);
  CHECK(call.extension == "1001");
  CHECK(call.disposition == call_disposition::answered);
  // The Cdr row (sent after the reconnect) gives the figures the gap hid.
  CHECK(call.duration_seconds == expected.total_seconds);
  CHECK(call.billsec == expected.billsec);
  CHECK(call.talk_seconds == expected.talk_seconds);
  CHECK(c.stats().calls_incomplete == 0);
}

TEST_CASE("re-sync: a call that ended while the connection was down is "
          "finalized incomplete at once",
          "[tracker][flows][resync]") {
  auto events = test::load_capture(dev01);
  auto cut = index_of(events, "BridgeEnter", "1795298998.0") + 1;
  call_correlator c;
  auto out = run(c, slice(events, 0, cut));
  c.on_connection_lost("default", to_unix_micros(events[cut - 1].received));
  // Everything after the cut happened while we were away.
  auto answer = resync_answer(events, events.size(), events.back().received);
  REQUIRE(answer.size() == 1); // nothing live: only the Complete
  CHECK(answer[0].get("ListItems") == "0");
  auto more = run(c, answer);
  REQUIRE(more.size() == 1);
  CHECK(more[0].incomplete);
  CHECK(more[0].disposition == call_disposition::answered);
  CHECK(more[0].extension == "1001");
  CHECK(c.live_count() == 0);
}

TEST_CASE("re-sync: a call first seen in the list is followed to its end",
          "[tracker][flows][resync]") {
  auto events = test::load_capture(dev01);
  // Switchboard (re)started while the call was talking: the list is all it
  // knows of its beginning.
  auto start = index_of(events, "BridgeEnter", "1795298998.0") + 1;
  auto answer = resync_answer(events, start, events[start].received);
  // A channel first seen in the list shows its current context, not the
  // one it entered by: trunks are then told by their channel name.
  pbx_config cfg;
  cfg.trunks = {"PJSIP/trunk-"};
  call_correlator c{{cfg}};
  c.on_connection_lost("default", to_unix_micros(events[start].received));
  auto out = run(c, answer);
  REQUIRE(c.live_count() == 1);
  auto more = run(c, slice(events, start, events.size()));
  out.insert(out.end(), more.begin(), more.end());
  sweep(c, events, out);
  REQUIRE(out.size() == 1);
  // Its start was not seen: incomplete, but the Cdr gives the figures.
  CHECK(out[0].incomplete);
  CHECK(out[0].direction == call_direction::inbound);
  CHECK(out[0].disposition == call_disposition::answered);
  CHECK(out[0].billsec == 7);
  CHECK(out[0].duration_seconds == 11);
}
