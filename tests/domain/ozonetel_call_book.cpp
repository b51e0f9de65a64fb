// The CloudAgent call book with plain values: every input takes the time and
// returns its entries, dispositions, timers and notices, so the call's life,
// the retries and the deadlines are checked without an actor or a clock.

#include <catch2/catch.hpp>

#include <string>

#include "domain/ozonetel_call_book.hpp"

using namespace sb;

namespace {

constexpr unix_micros second = 1'000'000;
constexpr unix_micros t0 = 1'795'298'998 * second;

ozonetel_config book_config() {
  ozonetel_config cfg;
  cfg.account = "acme";
  cfg.api_key = "key";
  cfg.agent_id = "agent007";
  cfg.campaign = "Inbound_918000000000";
  cfg.did = "918000000000";
  cfg.acw_timeout_seconds = 30;
  cfg.pending_outbound_seconds = 20;
  cfg.default_disposition = "General";
  cfg.disposition_map = {{"APPOINTMENT_BOOKED", "Appointment Booked"},
                         {"INFO_PROVIDED", "Information Given"},
                         {"NO_ANSWER", "No Answer"}};
  return cfg;
}

call_book_timing fast_timing() {
  call_book_timing timing;
  timing.retry_initial = std::chrono::milliseconds{100};
  timing.retry_max = std::chrono::milliseconds{400};
  timing.finished_retention = std::chrono::seconds{60};
  timing.max_call_age = std::chrono::seconds{600};
  return timing;
}

ozonetel_answer answer_of(ozonetel_outcome outcome, std::string message = {},
                          std::string ucid = {}) {
  ozonetel_answer a;
  a.outcome = outcome;
  a.message = std::move(message);
  a.ucid = std::move(ucid);
  return a;
}

browser_call_event browser(std::string ucid, browser_event event,
                           std::string x_ucid = {}, std::string caller = {}) {
  browser_call_event ev;
  ev.ucid = std::move(ucid);
  ev.x_ucid = std::move(x_ucid);
  ev.event = event;
  ev.caller = std::move(caller);
  return ev;
}

/// Places a dial that CloudAgent answers with `ucid`, at `at`.
std::string dial(ozonetel_call_book& book, const std::string& ucid,
                 unix_micros at, call_effects& out) {
  std::string number;
  auto refused = book.begin_dial({"+91 98450-12345", caf::none}, true, number);
  REQUIRE_FALSE(refused);
  CHECK(number == "+919845012345");
  CHECK(book.dial_in_flight());
  auto reply = book.on_dial_answer(answer_of(ozonetel_outcome::ok, "ok", ucid),
                                   number, caf::none, at, out);
  REQUIRE(reply.code == ucid_reply_code::ok);
  CHECK_FALSE(book.dial_in_flight());
  return reply.ucid;
}

} // namespace

TEST_CASE("call book: a dial's life to one disposition and one entry") {
  ozonetel_call_book book{book_config(), fast_timing()};
  call_effects out;
  auto ucid = dial(book, "u1", t0, out);
  REQUIRE(out.timers.size() == 1);
  CHECK(out.timers[0].kind == call_timer_kind::pending_expiry);
  CHECK(out.timers[0].due == t0 + 20 * second);
  REQUIRE(book.pending());
  CHECK(book.pending()->ucid == ucid);

  out = {};
  CHECK(book.on_browser(browser(ucid, browser_event::ringing), t0 + second, out)
            .state
        == "ringing");
  CHECK(book.on_browser(browser(ucid, browser_event::answered), t0 + 2 * second,
                        out)
            .state
        == "answered");
  CHECK_FALSE(book.pending()); // the bridge answered
  CHECK(book.live_count() == 1);
  auto ended = book.on_browser(browser(ucid, browser_event::ended),
                               t0 + 62 * second, out);
  CHECK(ended.state == "acw");
  CHECK(out.entries.empty());
  REQUIRE(out.timers.size() == 1);
  CHECK(out.timers[0].kind == call_timer_kind::acw);
  CHECK(out.timers[0].due == t0 + 92 * second);
  CHECK(book.awaiting_disposition() == std::vector<std::string>{ucid});
  CHECK(book.live_count() == 0);

  out = {};
  auto refused = book.dispose({ucid, "appointment_booked", "Tuesday", {}}, out);
  CHECK_FALSE(refused);
  REQUIRE(out.dispositions.size() == 1);
  CHECK(out.dispositions[0].ucid == ucid);
  CHECK(out.dispositions[0].disposition == "Appointment Booked");
  CHECK(out.dispositions[0].comments == "Tuesday");

  out = {};
  auto done = book.on_disposition_answer(
      ucid, answer_of(ozonetel_outcome::ok, "Disposition Set"),
      t0 + 70 * second, out);
  CHECK(done.code == ucid_reply_code::ok);
  CHECK(done.state == "disposed");
  REQUIRE(out.entries.size() == 1);
  auto& c = out.entries[0].call;
  CHECK_FALSE(out.entries[0].update);
  CHECK(c.ext_message_id == ucid);
  CHECK(c.direction == call_direction::outbound);
  CHECK(c.extension == "agent007");
  CHECK(c.disposition == call_disposition::answered);
  CHECK(c.started_at == t0);
  CHECK(c.answered_at == t0 + 2 * second);
  CHECK(c.ended_at == t0 + 62 * second);
  CHECK(c.duration_seconds == 62);
  CHECK(c.talk_seconds == 60);
  CHECK(c.notes
        == "Disposition: Appointment Booked (appointment_booked)\nNotes: "
           "Tuesday");

  // A second disposition, and the stale ACW timer, do nothing.
  out = {};
  auto again = book.dispose({ucid, "INFO_PROVIDED", {}, {}}, out);
  REQUIRE(again);
  CHECK(again->code == ucid_reply_code::conflict);
  book.on_timer({call_timer_kind::acw, ucid, 0, 0}, t0 + 92 * second, out);
  CHECK(out.dispositions.empty());
  CHECK(out.entries.empty());
}

TEST_CASE("call book: the outbound flag binds one dial and expires") {
  ozonetel_call_book book{book_config(), fast_timing()};
  call_effects out;
  auto ucid = dial(book, "u1", t0, out);
  auto expiry = out.timers.at(0);

  std::string number;
  auto second_dial = book.begin_dial({"9845000000", caf::none}, true, number);
  REQUIRE(second_dial);
  CHECK(second_dial->code == ucid_reply_code::conflict);
  CHECK(second_dial->ucid == ucid);

  // A leg without UCID is the pending dial's bridge.
  out = {};
  CHECK(book.on_browser(browser({}, browser_event::ringing), t0 + second, out)
            .ucid
        == ucid);
  // An inbound call with its own X-UCID is never the bridge.
  auto in = book.on_browser(
      browser({}, browser_event::ringing, "9300", "+919811111111"), t0 + second,
      out);
  CHECK(in.ucid == "9300");
  REQUIRE(book.find("9300"));
  CHECK(book.find("9300")->direction == call_direction::inbound);
  CHECK(book.find("9300")->did == "918000000000");

  // An older generation does not clear it; its own does.
  book.on_timer(
      {call_timer_kind::pending_expiry, ucid, expiry.generation + 7, 0},
      expiry.due, out);
  CHECK(book.pending());
  book.on_timer(expiry, expiry.due, out);
  CHECK_FALSE(book.pending());
  CHECK(book.on_browser(browser({}, browser_event::answered), expiry.due, out)
            .code
        == ucid_reply_code::invalid);
  CHECK(book.find(ucid)->phase == ucid_call_phase::ringing);
}

TEST_CASE("call book: dial refusals") {
  ozonetel_call_book book{book_config(), fast_timing()};
  std::string number;
  CHECK(book.begin_dial({"12", caf::none}, true, number)->code
        == ucid_reply_code::invalid);
  CHECK(book.begin_dial({"9845012345", caf::none}, false, number)->code
        == ucid_reply_code::unavailable);
  CHECK_FALSE(book.begin_dial({"9845012345", caf::none}, true, number));
  CHECK(book.begin_dial({"9845012345", caf::none}, true, number)->code
        == ucid_reply_code::conflict); // in flight
  call_effects out;
  auto refused = book.on_dial_answer(
      answer_of(ozonetel_outcome::rejected, "Agent is not available"), number,
      caf::none, t0, out);
  CHECK(refused.code == ucid_reply_code::upstream);
  CHECK(book.size() == 0);
  CHECK_FALSE(book.begin_dial({"9845012345", caf::none}, true, number));
  auto no_ucid = book.on_dial_answer(answer_of(ozonetel_outcome::ok, "ok"),
                                     number, caf::none, t0, out);
  CHECK(no_ucid.code == ucid_reply_code::upstream);
  CHECK(book.size() == 0);
  CHECK(out.timers.empty());
}

TEST_CASE("call book: after-call work without a disposition sends the "
          "default, once") {
  ozonetel_call_book book{book_config(), fast_timing()};
  call_effects out;
  auto ucid = dial(book, "u1", t0, out);
  out = {};
  book.on_browser(browser(ucid, browser_event::ended), t0 + 10 * second, out);
  auto acw = out.timers.at(0);
  CHECK(acw.due == t0 + 40 * second);

  out = {};
  book.on_timer(acw, acw.due, out);
  REQUIRE(out.dispositions.size() == 1);
  // Unanswered: NO_ANSWER through the map.
  CHECK(out.dispositions[0].disposition == "No Answer");
  REQUIRE(out.notices.size() == 1);
  CHECK(out.notices[0].kind == call_notice_kind::automatic_disposition);

  // The campaign refuses it: the campaign default goes instead.
  out = {};
  book.on_disposition_answer(
      ucid, answer_of(ozonetel_outcome::rejected, "unknown disposition"),
      acw.due, out);
  REQUIRE(out.dispositions.size() == 1);
  CHECK(out.dispositions[0].disposition == "General");
  // ...and refuses that too: the call ends with it noted.
  out = {};
  book.on_disposition_answer(
      ucid, answer_of(ozonetel_outcome::rejected, "still unknown"), acw.due,
      out);
  CHECK(out.dispositions.empty());
  REQUIRE(out.entries.size() == 1);
  CHECK(out.entries[0].phase == ucid_call_phase::ended);
  CHECK(out.entries[0].call.disposition == call_disposition::no_answer);
  CHECK(out.entries[0].call.notes.find("refused by CloudAgent: still unknown")
        != std::string::npos);
  REQUIRE(out.notices.size() == 1);
  CHECK(out.notices[0].kind == call_notice_kind::default_refused);
  CHECK(book.find(ucid)->progress == disposition_progress::failed);
}

TEST_CASE("call book: CloudAgent down: retries back off and never drop it") {
  ozonetel_call_book book{book_config(), fast_timing()};
  call_effects out;
  auto ucid = dial(book, "u1", t0, out);
  book.on_browser(browser(ucid, browser_event::answered), t0, out);
  book.on_browser(browser(ucid, browser_event::ended), t0 + second, out);
  out = {};
  REQUIRE_FALSE(book.dispose({ucid, "INFO_PROVIDED", {}, {}}, out));

  auto now = t0 + 2 * second;
  std::vector<unix_micros> delays;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    REQUIRE(out.dispositions.size() == 1);
    CHECK(out.dispositions[0].disposition == "Information Given");
    out = {};
    auto reply = book.on_disposition_answer(
        ucid, answer_of(ozonetel_outcome::server_error, "503"), now, out);
    CHECK(reply.code == ucid_reply_code::accepted);
    REQUIRE(out.timers.size() == 1);
    CHECK(out.timers[0].kind == call_timer_kind::retry);
    delays.push_back(out.timers[0].due - now);
    // While it retries the agent cannot dispose again.
    call_effects ignored;
    CHECK(book.dispose({ucid, "APPOINTMENT_BOOKED", {}, {}}, ignored)->code
          == ucid_reply_code::conflict);
    now = out.timers[0].due;
    auto timer = out.timers[0];
    out = {};
    book.on_timer(timer, now, out);
  }
  CHECK(delays == std::vector<unix_micros>{100'000, 200'000, 400'000, 400'000});
  CHECK(book.find(ucid)->disposition_attempts == 5);
  REQUIRE(out.dispositions.size() == 1);
  out = {};
  auto reply = book.on_disposition_answer(
      ucid, answer_of(ozonetel_outcome::already_done, "already disposed"), now,
      out);
  CHECK(reply.code == ucid_reply_code::ok);
  CHECK(reply.state == "disposed");
  REQUIRE(out.entries.size() == 1);
  CHECK(book.find(ucid)->finished_at == now);
  // A retry timer still armed finds nothing to send.
  out = {};
  book.on_timer({call_timer_kind::retry, ucid, 0, 0}, now, out);
  CHECK(out.dispositions.empty());
}

TEST_CASE("call book: the agent's refused choice may be made again") {
  ozonetel_call_book book{book_config(), fast_timing()};
  call_effects out;
  auto ucid = dial(book, "u1", t0, out);
  book.on_browser(browser(ucid, browser_event::ended), t0 + second, out);
  REQUIRE_FALSE(book.dispose({ucid, "Information Given", {}, {}}, out));
  auto refused = book.on_disposition_answer(
      ucid, answer_of(ozonetel_outcome::rejected, "no"), t0 + second, out);
  CHECK(refused.code == ucid_reply_code::upstream);
  CHECK(book.find(ucid)->progress == disposition_progress::none);
  CHECK(book.find(ucid)->phase == ucid_call_phase::acw);
  out = {};
  CHECK_FALSE(book.dispose({ucid, "INFO_PROVIDED", {}, {}}, out));
  CHECK(out.dispositions.size() == 1);
  CHECK(book.dispose({ucid, "MADE_UP", {}, {}}, out)->code
        == ucid_reply_code::invalid);
  // A UCID never seen is disposed all the same: its seat is released.
  out = {};
  CHECK_FALSE(book.dispose({"nope", "INFO_PROVIDED", {}, {}}, out));
  REQUIRE(out.dispositions.size() == 1);
  CHECK(out.dispositions.front().ucid == "nope");
}

TEST_CASE("call book: callbacks") {
  ozonetel_call_book book{book_config(), fast_timing()};
  call_effects out;

  SECTION("a missed inbound call known only from its callback") {
    ozonetel_call_details d;
    d.ucid = "9300";
    d.caller_id = "+919833333333";
    d.agent_id = "agent007";
    d.duration_seconds = 30;
    d.type = "InBound";
    d.inbound = true;
    d.dial_status = "busy";
    auto reply = book.on_callback(d, t0, out);
    CHECK(reply.state == "missed");
    REQUIRE(out.entries.size() == 1);
    auto& c = out.entries[0].call;
    CHECK(c.direction == call_direction::inbound);
    CHECK(c.disposition == call_disposition::busy);
    CHECK(c.started_at == t0 - 30 * second);
    CHECK(c.duration_seconds == 30);
    CHECK(out.notices.at(0).kind == call_notice_kind::callback_only_call);
    // Again: an update of the same entry.
    out = {};
    book.on_callback(d, t0 + second, out);
    REQUIRE(out.entries.size() == 1);
    CHECK(out.entries[0].update);
  }
  SECTION("disposed in CloudAgent's toolbar while in after-call work") {
    auto ucid = dial(book, "u1", t0, out);
    book.on_browser(browser(ucid, browser_event::answered), t0, out);
    book.on_browser(browser(ucid, browser_event::ended), t0 + 90 * second, out);
    out = {};
    ozonetel_call_details d;
    d.ucid = ucid;
    d.duration_seconds = 125;
    d.call_duration_seconds = 100;
    d.answered = true;
    d.disposition = "Sale";
    auto reply = book.on_callback(d, t0 + 95 * second, out);
    CHECK(reply.state == "disposed");
    REQUIRE(out.entries.size() == 1);
    CHECK(out.entries[0].call.duration_seconds == 125);
    CHECK(out.entries[0].call.talk_seconds == 100);
    CHECK(out.entries[0].call.notes == "Disposition: Sale (set in CloudAgent)");
    CHECK(out.dispositions.empty());
  }
  SECTION("without a UCID") {
    CHECK(book.on_callback({}, t0, out).code == ucid_reply_code::invalid);
  }
}

TEST_CASE("call book: another agent's call needs no disposition from us") {
  ozonetel_call_book book{book_config(), fast_timing()};
  call_effects out;
  ozonetel_call_details d;
  d.ucid = "9301";
  d.agent_id = "someone_else";
  d.answered = true;
  d.duration_seconds = 180;
  d.call_duration_seconds = 150;
  auto reply = book.on_callback(d, t0, out);
  CHECK(reply.state == "ended");
  CHECK(out.timers.empty());
  REQUIRE(out.entries.size() == 1);
  CHECK(out.entries[0].call.extension == "someone_else");
  CHECK(out.entries[0].call.answered_at == t0 - 150 * second);
  CHECK(book.dispose({"9301", "INFO_PROVIDED", {}, {}}, out)->code
        == ucid_reply_code::conflict);
}

TEST_CASE("call book: the sweep closes calls that never end and forgets "
          "finished ones") {
  ozonetel_call_book book{book_config(), fast_timing()};
  call_effects out;
  book.on_browser(browser("9400", browser_event::ringing), t0, out);
  book.on_browser(browser("9401", browser_event::ringing), t0, out);
  book.on_browser(browser("9401", browser_event::ended), t0 + second, out);
  CHECK(book.find("9401")->phase == ucid_call_phase::missed);

  out = {};
  book.sweep(t0 + 60 * second, out);
  CHECK(book.size() == 2);
  CHECK(out.entries.empty());
  book.sweep(t0 + 62 * second, out); // 9401 finished 61 s ago
  CHECK(book.size() == 1);
  CHECK_FALSE(book.find("9401"));

  book.sweep(t0 + 601 * second, out); // 9400 is older than the maximum age
  REQUIRE(out.entries.size() == 1);
  CHECK(out.entries[0].call.ucid == "9400");
  CHECK(out.entries[0].call.incomplete);
  CHECK(out.entries[0].call.ended_at == t0 + 601 * second);
  CHECK(out.notices.at(0).kind == call_notice_kind::never_ended);
  CHECK(out.notices.at(0).detail == "ringing");
  CHECK(book.live_calls().empty());
}

TEST_CASE("call book: the agent's view") {
  ozonetel_call_book book{book_config(), fast_timing()};
  call_effects out;
  auto ucid = dial(book, "u1", t0, out);
  book.on_browser(browser("9500", browser_event::ringing), t0 + second, out);
  book.on_browser(browser(ucid, browser_event::answered), t0 + 2 * second, out);
  auto view = book.agent_view();
  CHECK(view.agent_id == "agent007");
  REQUIRE(view.current_call);
  CHECK(view.current_call->id == ucid); // answered before ringing
  CHECK(view.pending_outbound.empty());
  auto live = book.live_calls();
  REQUIRE(live.size() == 2);
  CHECK(live[0].id == ucid); // oldest first
  CHECK(live[1].id == "9500");
  CHECK(live[1].direction == call_direction::inbound);
}
