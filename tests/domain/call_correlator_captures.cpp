// Every capture in tests/fixtures/ami against its expected.json, through the
// correlator alone (no actor system), with each time source in turn.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "domain/call_correlator.hpp"
#include "messages/ami_interest.hpp"
#include "tests/fixtures/capture.hpp"

using namespace sb;

namespace {

constexpr unix_micros second = 1'000'000;

struct replay_result {
  std::vector<completed_call> calls;
  /// Calls still live after the last event, before the final sweep.
  size_t live_at_end = 0;
  /// ... and how many of those were only waiting for trailing Cdr events.
  size_t ending_at_end = 0;
  correlator_stats stats;
};

replay_result replay(const std::vector<ami_event>& events) {
  call_correlator correlator;
  replay_result result;
  for (auto& e : events)
    correlator.on_event(e, result.calls);
  result.live_at_end = correlator.live_count();
  for (auto& call : correlator.active())
    if (call.state == live_call_state::ending)
      ++result.ending_at_end;
  // The captures end ~2 s after the last Hangup; what still waits for its
  // Cdr grace is due once the clock moves on.
  auto last = events.empty() ? 0 : to_unix_micros(events.back().received);
  correlator.finalize_stale(last + 10 * second, result.calls);
  result.stats = correlator.stats();
  CHECK(correlator.live_count() == 0);
  return result;
}

std::map<std::string, completed_call>
by_linkedid(const std::vector<completed_call>& calls) {
  std::map<std::string, completed_call> result;
  for (auto& c : calls) {
    INFO("linkedid " << c.ext_message_id);
    CHECK(result.count(c.ext_message_id) == 0); // never finalized twice
    result[c.ext_message_id] = c;
  }
  return result;
}

bool within_1s(int64_t a, int64_t b) {
  return std::llabs(a - b) <= 1;
}

bool within_1s_micros(unix_micros a, unix_micros b) {
  return std::llabs(a - b) <= second;
}

/// The billsec a run without Cdr events can know: the stream's measure from
/// the outside party's answer to its end. expected.json's billsec is the
/// sum of Asterisk's per-segment billsecs; each segment is truncated and a
/// park leaves short gaps between segments, so for a few parked calls the
/// two differ by 2 s (the file records the stream's figure as ami_billsec;
/// internal calls have no outside party there, their ami_billsec is 0).
int64_t stream_billsec(const test::expected_call& x) {
  return x.direction != call_direction::internal && x.ami_billsec >= 0
                 && std::llabs(x.ami_billsec - x.billsec) > 1
             ? x.ami_billsec
             : x.billsec;
}

/// Compares the calls with the expected ones; times only when the run had
/// a time source. `with_cdr`: the run had the Cdr events.
void check(const test::expected_scenario& expected,
           const std::vector<completed_call>& calls, bool check_times,
           bool with_cdr, const std::string& mode) {
  INFO("scenario " << expected.scenario << ", " << mode);
  REQUIRE(calls.size() == expected.calls.size());
  auto got = by_linkedid(calls);
  for (auto& x : expected.calls) {
    INFO("call " << x.linkedid);
    REQUIRE(got.count(x.linkedid) == 1);
    auto& c = got[x.linkedid];
    CHECK(c.source == "ami");
    CHECK(c.origin == "default");
    CHECK_FALSE(c.incomplete);
    CHECK(to_string(c.direction) == std::string{to_string(x.direction)});
    CHECK(c.external_number == x.external_number);
    CHECK(c.extension == x.extension);
    if (x.direction == call_direction::internal)
      CHECK(c.peer_extension == x.peer_extension);
    if (x.direction == call_direction::inbound)
      CHECK(c.did == x.did);
    CHECK(to_string(c.disposition) == std::string{to_string(x.disposition)});
    CHECK((c.disposition == call_disposition::answered) == x.answered);
    if (!check_times)
      continue;
    INFO("duration " << c.duration_seconds << " billsec " << c.billsec
                     << " talk " << c.talk_seconds);
    CHECK(within_1s(c.duration_seconds, x.total_seconds));
    CHECK(within_1s(c.billsec, with_cdr ? x.billsec : stream_billsec(x)));
    CHECK(within_1s(c.talk_seconds, x.talk_seconds));
    CHECK(within_1s_micros(c.started_at, x.start));
    CHECK(within_1s_micros(c.ended_at, x.end));
    if (x.answered) {
      CHECK(c.answered_at >= c.started_at - second);
      CHECK(c.answered_at <= c.ended_at + second);
    } else {
      CHECK(c.answered_at == 0);
    }
  }
}

/// The figures of two runs of one capture agree within 1 s; billsec too
/// unless the call is one where the CDR sum and the stream measure differ
/// (see stream_billsec) and only one of the runs had the Cdr events.
void check_agree(const test::expected_scenario& expected,
                 const std::vector<completed_call>& a,
                 const std::vector<completed_call>& b, bool one_without_cdr,
                 const std::string& what) {
  INFO(what);
  auto x = by_linkedid(a);
  auto y = by_linkedid(b);
  REQUIRE(x.size() == y.size());
  std::map<std::string, test::expected_call> known;
  for (auto& call : expected.calls)
    known[call.linkedid] = call;
  for (auto& [id, c] : x) {
    INFO("call " << id);
    REQUIRE(y.count(id) == 1);
    auto& d = y[id];
    CHECK(within_1s(c.duration_seconds, d.duration_seconds));
    auto& e = known[id];
    if (one_without_cdr && stream_billsec(e) != e.billsec)
      CHECK(std::llabs(c.billsec - d.billsec)
            <= std::llabs(e.billsec - e.ami_billsec) + 1);
    else
      CHECK(within_1s(c.billsec, d.billsec));
    CHECK(within_1s(c.talk_seconds, d.talk_seconds));
    CHECK(within_1s_micros(c.started_at, d.started_at));
    CHECK(within_1s_micros(c.ended_at, d.ended_at));
  }
}

} // namespace

TEST_CASE("every capture: tracker calls equal expected.json",
          "[tracker][captures]") {
  auto scenarios = test::capture_scenarios();
  // All 28 scenarios of tests/fixtures/ami/README.md (both sets).
  REQUIRE(scenarios.size() == 28);
  for (auto& name : scenarios) {
    DYNAMIC_SECTION(name) {
      auto expected = test::load_expected(name);
      REQUIRE_FALSE(expected.calls.empty());
      const bool has_timestamps = expected.timestampevents;

      // (a) as recorded: Cdr events and (except *-nots) Timestamp fields.
      auto full_events = test::load_capture(name);
      auto full = replay(full_events);
      check(expected, full.calls, true, true, "with Cdr");
      // Everything hung up: at the end only the Cdr wait can hold a call.
      CHECK(full.live_at_end == full.ending_at_end);
      CHECK(full.stats.orphan_cdrs == 0);
      CHECK(full.stats.calls_completed == expected.calls.size());
      CHECK(full.stats.calls_incomplete == 0);

      // (b) no Cdr events: times from the Timestamp fields. The *-nots
      // captures then have no time source at all (every event has the same
      // simulated arrival time), so only their non-time fields are checked.
      test::capture_options no_cdr;
      no_cdr.keep_cdr = false;
      auto without_cdr = replay(test::load_capture(name, no_cdr));
      check(expected, without_cdr.calls, has_timestamps, false, "without Cdr");

      // (c) no Cdr and no Timestamp fields: times from arrival (received
      // set from the original Timestamp, as a live connection would see).
      test::capture_options arrival;
      arrival.keep_cdr = false;
      arrival.keep_timestamps = false;
      auto by_arrival = replay(test::load_capture(name, arrival));
      check(expected, by_arrival.calls, has_timestamps, false,
            "without Cdr and Timestamp (arrival times)");

      // (d) Cdr present but no Timestamp fields.
      test::capture_options cdr_only;
      cdr_only.keep_timestamps = false;
      auto with_cdr_only = replay(test::load_capture(name, cdr_only));
      check(expected, with_cdr_only.calls, true, true,
            "with Cdr, no Timestamp");

      // (e) what the AMI reader passes on: only the events tracker_wants()
      // names (messages/ami_interest.hpp).
      std::vector<ami_event> wanted;
      for (auto& e : full_events)
        if (tracker_wants(e.name()))
          wanted.push_back(e);
      CHECK(wanted.size() < full_events.size() / 2);
      auto filtered = replay(wanted);
      check(expected, filtered.calls, true, true,
            "only the events the tracker wants");

      // The three time sources agree within 1 s.
      if (has_timestamps) {
        check_agree(expected, full.calls, without_cdr.calls, true,
                    "Cdr vs Timestamp");
        check_agree(expected, full.calls, by_arrival.calls, true,
                    "Cdr vs arrival");
        check_agree(expected, without_cdr.calls, by_arrival.calls, false,
                    "Timestamp vs arrival");
        check_agree(expected, full.calls, with_cdr_only.calls, false,
                    "Cdr with and without Timestamp");
      }
    }
  }
}

TEST_CASE("capture helper: events, options and expected files",
          "[tracker][captures]") {
  auto events = test::load_capture("dev-01-inbound-answered-caller-hangup");
  REQUIRE_FALSE(events.empty());
  // The banner and the login response are not events.
  CHECK(events.front().name() == "FullyBooted");
  size_t cdrs = 0;
  for (auto& e : events) {
    CHECK_FALSE(e.name().empty());
    CHECK(e.pbx == "default");
    cdrs += e.name() == "Cdr";
  }
  CHECK(cdrs == 1);

  test::capture_options opts;
  opts.keep_cdr = false;
  opts.keep_timestamps = false;
  opts.pbx = "pbx-a";
  auto stripped
      = test::load_capture("dev-01-inbound-answered-caller-hangup", opts);
  CHECK(stripped.size() == events.size() - 1);
  for (size_t i = 0, j = 0; i < events.size(); ++i) {
    if (events[i].name() == "Cdr")
      continue;
    auto& e = stripped[j++];
    CHECK(e.pbx == "pbx-a");
    CHECK_FALSE(e.has("Timestamp"));
    CHECK(e.text.find("Timestamp") == std::string::npos);
    CHECK(e.name() == events[i].name());
    CHECK(e.size() + (events[i].has("Timestamp") ? 1 : 0) == events[i].size());
    // Arrival simulated from the original Timestamp.
    CHECK(e.received == events[i].received);
  }
  // Newchannel of the trunk: Timestamp 1795298998.811647.
  CHECK(to_unix_micros(events[2].received) == 1795298998811647);

  auto expected = test::load_expected("dev-11-burst-50");
  CHECK(expected.calls.size() == 50);
  CHECK(expected.timestampevents);
  auto nots = test::load_expected("dev-13-inbound-answered-nots");
  CHECK_FALSE(nots.timestampevents);
  auto dev01 = test::load_expected("dev-01-inbound-answered-caller-hangup");
  REQUIRE(dev01.calls.size() == 1);
  auto& first = dev01.calls[0];
  CHECK(first.linkedid == "1795298998.0");
  CHECK(first.total_seconds == 11);
  CHECK(first.start == test::parse_utc("2026-11-21 22:09:58"));
  CHECK(test::read_capture_bytes("dev-01-inbound-answered-caller-hangup")
            .rfind("Asterisk Call Manager/", 0)
        == 0);
}
