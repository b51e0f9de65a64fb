// The correlator's behaviour beyond the single captures: interleaving,
// connection loss, exactly-once finalization, calls joined late, memory.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "adapters/ami/codec.hpp"
#include "domain/call_correlator.hpp"
#include "tests/fixtures/capture.hpp"

using namespace sb;

namespace {

constexpr unix_micros second = 1'000'000;

caf::timestamp at_micros(unix_micros t) {
  return caf::timestamp{std::chrono::microseconds{t}};
}

/// Feeds `events` and returns what completed.
std::vector<completed_call> feed(call_correlator& c,
                                 const std::vector<ami_event>& events) {
  std::vector<completed_call> out;
  for (auto& e : events)
    c.on_event(e, out);
  return out;
}

/// Index of the first event named `name` of channel `uniqueid` (or of any
/// channel when empty).
size_t index_of(const std::vector<ami_event>& events, std::string_view name,
                std::string_view uniqueid = {}) {
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].name() == name
        && (uniqueid.empty() || events[i].get("Uniqueid") == uniqueid))
      return i;
  FAIL("no " << name << " event");
  return 0;
}

std::vector<ami_event> slice(const std::vector<ami_event>& events, size_t from,
                             size_t to) {
  return {events.begin() + static_cast<ptrdiff_t>(from),
          events.begin() + static_cast<ptrdiff_t>(to)};
}

const char* dev01 = "dev-01-inbound-answered-caller-hangup";

} // namespace

TEST_CASE("interleaved events of many calls", "[tracker]") {
  // Six single-call captures (inbound, ring group, missed, outbound,
  // internal, busy) merged round-robin: each call's own order is kept, the
  // calls' events alternate one by one.
  std::vector<std::string> names = {
      "dev-01-inbound-answered-caller-hangup",
      "dev-06-inbound-ringgroup-second-answers",
      "dev-03-inbound-missed-ring-timeout",
      "dev-07-outbound-answered",
      "dev-09-internal",
      "dev-08a-outbound-busy",
      "dev-15-inbound-queue",
  };
  for (bool keep_cdr : {true, false}) {
    DYNAMIC_SECTION((keep_cdr ? "with Cdr" : "without Cdr")) {
      test::capture_options opts;
      opts.keep_cdr = keep_cdr;
      std::vector<std::vector<ami_event>> streams;
      std::map<std::string, test::expected_call> expected;
      for (auto& name : names) {
        streams.push_back(test::load_capture(name, opts));
        for (auto& call : test::load_expected(name).calls)
          expected[call.linkedid] = call;
      }
      std::vector<ami_event> merged;
      for (size_t i = 0;; ++i) {
        bool any = false;
        for (auto& s : streams)
          if (i < s.size()) {
            merged.push_back(s[i]);
            any = true;
          }
        if (!any)
          break;
      }
      // Arrival is one event per millisecond; call times stay those of the
      // Timestamp fields.
      const unix_micros base = 1'900'000'000 * second;
      for (size_t i = 0; i < merged.size(); ++i)
        merged[i].received
            = at_micros(base + static_cast<unix_micros>(i) * 1000);
      call_correlator c;
      auto calls = feed(c, merged);
      c.finalize_stale(base + static_cast<unix_micros>(merged.size()) * 1000
                           + 10 * second,
                       calls);
      REQUIRE(calls.size() == expected.size());
      std::map<std::string, int> seen;
      for (auto& call : calls) {
        INFO("call " << call.ext_message_id);
        REQUIRE(expected.count(call.ext_message_id) == 1);
        CHECK(++seen[call.ext_message_id] == 1);
        auto& x = expected[call.ext_message_id];
        CHECK(call.direction == x.direction);
        CHECK(call.external_number == x.external_number);
        CHECK(call.extension == x.extension);
        CHECK(call.disposition == x.disposition);
        CHECK(std::llabs(call.duration_seconds - x.total_seconds) <= 1);
        CHECK(std::llabs(call.billsec - x.billsec) <= 1);
        CHECK(std::llabs(call.talk_seconds - x.talk_seconds) <= 1);
        CHECK_FALSE(call.incomplete);
      }
      CHECK(c.live_count() == 0);
    }
  }
}

TEST_CASE("connection lost and no more events: live calls finalized "
          "incomplete after stale_call_seconds",
          "[tracker]") {
  auto events = test::load_capture(dev01);
  // Up to and including the BridgeEnter of both legs: the call is answered
  // and talking when the connection drops.
  auto cut = index_of(events, "BridgeEnter", "1795298998.0") + 1;
  correlator_options options;
  options.stale_call_seconds = 300;
  call_correlator c{{}, options};
  auto done = feed(c, slice(events, 0, cut));
  CHECK(done.empty());
  REQUIRE(c.live_count() == 1);

  const unix_micros lost_at = to_unix_micros(events[cut - 1].received) + second;
  c.on_connection_lost("default", lost_at);
  CHECK(c.next_deadline() <= lost_at + 300 * second);

  std::vector<completed_call> out;
  c.finalize_stale(lost_at + 299 * second, out);
  CHECK(out.empty());
  CHECK(c.live_count() == 1);

  c.finalize_stale(lost_at + 300 * second, out);
  REQUIRE(out.size() == 1);
  auto& call = out[0];
  CHECK(call.incomplete);
  CHECK(call.ext_message_id == "1795298998.0");
  CHECK(call.direction == call_direction::inbound);
  CHECK(call.external_number == "+442079460123");
  CHECK(call.extension == "1001");
  CHECK(call.disposition == call_disposition::answered);
  CHECK(call.answered_at != 0);
  CHECK(call.started_at == 1795298998811647);
  CHECK(c.live_count() == 0);
  CHECK(c.stats().calls_incomplete == 1);

  // Nothing is finalized twice: neither by more sweeps nor when the rest of
  // the call turns up after all.
  c.finalize_stale(lost_at + 900 * second, out);
  CHECK(out.size() == 1);
  auto rest = slice(events, cut, events.size());
  for (auto& e : rest)
    e.received = at_micros(lost_at + 301 * second);
  auto late = feed(c, rest);
  c.finalize_stale(lost_at + 400 * second, late);
  CHECK(late.empty());
  CHECK(c.live_count() == 0);
  CHECK(c.stats().late_events > 0);
}

TEST_CASE("connection lost but the call's events resume: completed normally",
          "[tracker]") {
  auto events = test::load_capture(dev01);
  auto cut = index_of(events, "BridgeEnter", "1795298998.0") + 1;
  call_correlator c;
  auto out = feed(c, slice(events, 0, cut));
  const unix_micros lost_at = to_unix_micros(events[cut - 1].received);
  c.on_connection_lost("default", lost_at);
  // A call of another PBX is not affected by this connection's loss.
  test::capture_options other;
  other.pbx = "other";
  auto other_events = test::load_capture("dev-09-internal", other);
  auto other_cut = index_of(other_events, "BridgeEnter");
  for (auto& e : other_events)
    e.received = at_micros(lost_at);
  feed(c, slice(other_events, 0, other_cut));
  REQUIRE(c.live_count() == 2);

  // Reconnected: the rest of the dev-01 call arrives 10 s later.
  auto rest = slice(events, cut, events.size());
  for (auto& e : rest)
    e.received = at_micros(lost_at + 10 * second);
  auto more = feed(c, rest);
  out.insert(out.end(), more.begin(), more.end());
  c.finalize_stale(lost_at + 301 * second, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].ext_message_id == "1795298998.0");
  CHECK_FALSE(out[0].incomplete);
  CHECK(out[0].billsec == 7);
  CHECK(out[0].duration_seconds == 11);
  // The other PBX's call is still live.
  REQUIRE(c.live_count() == 1);
  auto live = c.active();
  REQUIRE(live.size() == 1);
  CHECK(live[0].origin == "other");
  CHECK(live[0].id == "1795299131.21");
}

TEST_CASE("calls are never finalized twice", "[tracker]") {
  auto events = test::load_capture(dev01);
  call_correlator c;
  auto out = feed(c, events);
  auto last = to_unix_micros(events.back().received);
  c.finalize_stale(last + second, out);
  REQUIRE(out.size() == 1);

  SECTION("the same events again (a replayed stream)") {
    auto again = feed(c, events);
    c.finalize_stale(last + 5 * second, again);
    CHECK(again.empty());
    CHECK(c.live_count() == 0);
    CHECK(c.stats().late_events > 0);
    CHECK(c.stats().calls_started == 1);
  }
  SECTION("a duplicated Hangup and Cdr after finalization") {
    std::vector<ami_event> dups;
    for (auto& e : events)
      if (e.name() == "Hangup" || e.name() == "Cdr")
        dups.push_back(e);
    auto again = feed(c, dups);
    c.finalize_stale(last + 5 * second, again);
    CHECK(again.empty());
  }
  SECTION("sweeps find nothing more") {
    std::vector<completed_call> again;
    c.finalize_stale(last + 10 * second, again);
    c.finalize_stale(last + 10000 * second, again);
    CHECK(again.empty());
  }
}

TEST_CASE("a Cdr that arrives after the last Hangup is still used",
          "[tracker]") {
  // dev-07: the only CDR row comes right after the last Hangup.
  auto events = test::load_capture("dev-07-outbound-answered");
  auto hangups = 0;
  size_t last_hangup = 0;
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].name() == "Hangup") {
      ++hangups;
      last_hangup = i;
    }
  REQUIRE(hangups == 2);
  REQUIRE(events.at(last_hangup + 1).name() == "Cdr");
  // Make the Cdr visibly different from the event times: it must be what the
  // call reports (BillableSeconds 9 -> 42).
  auto& cdr = events[last_hangup + 1];
  auto text = cdr.text;
  auto pos = text.find("BillableSeconds: 9");
  REQUIRE(pos != std::string::npos);
  text.replace(pos, 18, "BillableSeconds: 42");
  REQUIRE(ami::parse_frame(text, cdr));
  REQUIRE(cdr.get("BillableSeconds") == "42");
  call_correlator c;
  auto out = feed(c, events);
  c.finalize_stale(to_unix_micros(events.back().received) + second, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].billsec == 42);
  CHECK(c.stats().late_events == 0);

  // Past the grace the call is finalized from its events' times and the
  // straggler is dropped, not turned into a second call.
  cdr.received += std::chrono::seconds{1};
  call_correlator d;
  auto before = feed(d, slice(events, 0, last_hangup + 1));
  CHECK(before.empty()); // waiting for trailing Cdr events
  // The tracker's timer fires before the straggler arrives.
  d.finalize_stale(to_unix_micros(cdr.received) - 1, before);
  REQUIRE(before.size() == 1);
  std::vector<ami_event> straggler{cdr};
  auto after = feed(d, straggler);
  CHECK(after.empty());
  auto& call = before[0];
  CHECK(call.billsec == 9);
  CHECK(call.duration_seconds == 12);
  d.finalize_stale(to_unix_micros(cdr.received) + 10 * second, after);
  CHECK(before.size() + after.size() == 1);
  CHECK(d.stats().late_events == 1);
}

TEST_CASE("a call older than max_call_seconds is finalized incomplete",
          "[tracker]") {
  auto events = test::load_capture(dev01);
  auto cut = index_of(events, "DialBegin") + 1;
  correlator_options options;
  options.max_call_seconds = 60;
  call_correlator c{{}, options};
  auto out = feed(c, slice(events, 0, cut));
  auto first = to_unix_micros(events[index_of(events, "Newchannel")].received);
  c.finalize_stale(first + 59 * second, out);
  CHECK(out.empty());
  c.finalize_stale(first + 60 * second, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].incomplete);
  CHECK(out[0].disposition == call_disposition::no_answer);
  CHECK(out[0].extension == "1001"); // the only extension rung
}

TEST_CASE("a call joined after it started is reported once, incomplete",
          "[tracker]") {
  auto events = test::load_capture(dev01);
  // Listening starts after the DialBegin: Newchannel of both legs missed.
  auto from = index_of(events, "DialBegin") + 1;
  call_correlator c;
  auto out = feed(c, slice(events, from, events.size()));
  c.finalize_stale(to_unix_micros(events.back().received) + second, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].ext_message_id == "1795298998.0");
  CHECK(out[0].incomplete);
  CHECK(out[0].disposition == call_disposition::answered);
  // The Cdr still gives the real figures.
  CHECK(out[0].billsec == 7);
  CHECK(out[0].duration_seconds == 11);
}

TEST_CASE("active calls while they ring, talk and end", "[tracker]") {
  auto events = test::load_capture("dev-06-inbound-ringgroup-second-answers");
  call_correlator c;
  auto ringing_at = index_of(events, "DialState") + 1;
  auto out = feed(c, slice(events, 0, ringing_at));
  auto live = c.active();
  REQUIRE(live.size() == 1);
  CHECK(live[0].source == "ami");
  CHECK(live[0].id == "1795299069.10");
  CHECK(live[0].origin == "default");
  CHECK(live[0].direction == call_direction::inbound);
  CHECK(live[0].state == live_call_state::ringing);
  CHECK(live[0].external_number == "+442079460321");
  CHECK(live[0].extension.empty()); // two extensions ring
  CHECK(live[0].answered_at == 0);

  auto talking_at = index_of(events, "BridgeEnter") + 1;
  auto more = feed(c, slice(events, ringing_at, talking_at));
  live = c.active();
  REQUIRE(live.size() == 1);
  CHECK(live[0].state == live_call_state::answered);
  CHECK(live[0].extension == "1002");
  CHECK(live[0].answered_at != 0);
  CHECK(live[0].started_at != 0);

  more = feed(c, slice(events, talking_at, events.size()));
  c.finalize_stale(to_unix_micros(events.back().received) + second, more);
  CHECK(c.active().empty());
  CHECK(more.size() == 1);
}

TEST_CASE("trunk and context rules come from the PBX config", "[tracker]") {
  // Treat the phone 1001 as a trunk by channel prefix: dev-09 (1001 calls
  // 1002) then reads as an inbound call from "1001" to extension 1002.
  pbx_config cfg;
  cfg.name = "default";
  cfg.trunks = {"PJSIP/1001-"};
  call_correlator c{{cfg}};
  auto events = test::load_capture("dev-09-internal");
  auto out = feed(c, events);
  c.finalize_stale(to_unix_micros(events.back().received) + second, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].direction == call_direction::inbound);
  CHECK(out[0].external_number == "1001");
  CHECK(out[0].extension == "1002");

  // Without from-pstn among the inbound contexts, dev-01's trunk channel is
  // not recognized as one: the call reads as internal.
  pbx_config other;
  other.name = "default";
  other.inbound_contexts = {"from-carrier"};
  call_correlator d{{other}};
  auto inbound = test::load_capture(dev01);
  auto calls = feed(d, inbound);
  d.finalize_stale(to_unix_micros(inbound.back().received) + second, calls);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].direction == call_direction::internal);
}

TEST_CASE("memory per live call is bounded", "[tracker]") {
  // dev-11 without its Hangup and Cdr events: all 50 calls stay live with
  // every channel they had.
  std::vector<ami_event> events;
  for (auto& e : test::load_capture("dev-11-burst-50"))
    if (e.name() != "Hangup" && e.name() != "Cdr")
      events.push_back(std::move(e));
  call_correlator c;
  auto out = feed(c, events);
  CHECK(out.empty());
  REQUIRE(c.live_count() == 50);
  auto per_call = c.live_bytes() / c.live_count();
  INFO("bytes per live call: " << per_call);
  CHECK(per_call > 200);
  CHECK(per_call < 2048);
}
