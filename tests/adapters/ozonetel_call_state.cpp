// The call book with many agents, CloudAgent's events and a restart: per
// agent dials and seats, events that never move a call backwards, and the
// state a restart resumes from (encoded and decoded as the database holds
// it, adapters/store/ucid_state.hpp).

#include <catch2/catch.hpp>

#include <string>

#include "adapters/store/ucid_state.hpp"
#include "domain/ozonetel_call_book.hpp"
#include "tests/fixtures/store_support.hpp"

using namespace sb;

namespace {

constexpr unix_micros second = 1'000'000;
constexpr unix_micros t0 = 1'795'298'998 * second;

ozonetel_config agents_config() {
  ozonetel_config cfg;
  cfg.account = "acme";
  cfg.api_key = "key";
  cfg.agent_id = "agent007";
  cfg.campaign = "Sales";
  cfg.acw_timeout_seconds = 30;
  cfg.pending_outbound_seconds = 20;
  cfg.default_disposition = "General";
  cfg.disposition_map = {{"INFO_PROVIDED", "Information Given"}};
  return cfg;
}

ozonetel_answer ok_answer(std::string ucid = {}) {
  ozonetel_answer a;
  a.outcome = ozonetel_outcome::ok;
  a.ucid = std::move(ucid);
  return a;
}

ozonetel_call_event call_event(std::string action, std::string ucid,
                               std::string agent, unix_micros at) {
  ozonetel_call_event ev;
  ev.action = std::move(action);
  ev.ucid = ucid;
  ev.monitor_ucid = std::move(ucid);
  ev.agent_id = std::move(agent);
  ev.call_type = "InBound";
  ev.caller_id = "9845012345";
  ev.event_time = at;
  return ev;
}

} // namespace

TEST_CASE("call book: each agent has its own pending dial and seat") {
  ozonetel_call_book book{agents_config()};
  book.set_agents({"agent100", "agent101"});
  call_effects out;
  std::string number;
  ozonetel_dial_request a{"+919845000001", caf::none, "agent100"};
  ozonetel_dial_request b{"+919845000002", caf::none, "agent101"};
  REQUIRE_FALSE(book.begin_dial(a, true, number, t0));
  // Another agent dials while the first dial is in flight.
  std::string number_b;
  REQUIRE_FALSE(book.begin_dial(b, true, number_b, t0));
  CHECK(book.begin_dial(a, true, number, t0)->code
        == ucid_reply_code::conflict);
  book.on_dial_answer(ok_answer("U-A"), "agent100", number, caf::none, t0, out);
  book.on_dial_answer(ok_answer("U-B"), "agent101", number_b, caf::none, t0,
                      out);
  CHECK(book.pending("agent100")->ucid == "U-A");
  CHECK(book.pending("agent101")->ucid == "U-B");
  CHECK(book.agent_view("agent100").pending_dial_number == "+919845000001");
  ozonetel_dial_request stranger{"+919845000003", caf::none, "nobody"};
  CHECK(book.begin_dial(stranger, true, number, t0)->code
        == ucid_reply_code::not_found);
  // The events end one agent's call: only that seat goes to after-call work.
  book.on_call_event(call_event("Answered", "U-A", "agent100", t0 + second),
                     t0 + second, out);
  book.on_call_event(call_event("Disconnect", "U-A", "agent100", t0 + 5 * second),
                     t0 + 5 * second, out);
  CHECK(book.awaiting_disposition("agent100")
        == std::vector<std::string>{"U-A"});
  CHECK(book.awaiting_disposition("agent101").empty());
  CHECK_FALSE(book.pending("agent100"));
  call_effects d;
  ozonetel_dispose_request req{"U-A", "INFO_PROVIDED", {}, {}};
  req.agent_id = "agent101";
  // Not that agent's call.
  CHECK(book.dispose(req, t0 + 6 * second, d)->code
        == ucid_reply_code::conflict);
  req.agent_id = "agent100";
  REQUIRE_FALSE(book.dispose(req, t0 + 6 * second, d));
  REQUIRE(d.dispositions.size() == 1);
  CHECK(d.dispositions[0].agent_id == "agent100");
}

TEST_CASE("call book: CloudAgent's events never move a call backwards") {
  ozonetel_call_book book{agents_config()};
  call_effects out;
  book.on_call_event(call_event("Disconnect", "U-1", "agent007", t0 + 9 * second),
                     t0 + 10 * second, out);
  // Known only from its end: a missed inbound call, one entry.
  auto* call = book.find("U-1");
  REQUIRE(call);
  CHECK(call->phase == ucid_call_phase::missed);
  REQUIRE(out.entries.size() == 1);
  call_effects late;
  book.on_call_event(call_event("Answered", "U-1", "agent007", t0 + 5 * second),
                     t0 + 11 * second, late);
  book.on_call_event(call_event("Calling", "U-1", "agent007", t0 + 1 * second),
                     t0 + 11 * second, late);
  CHECK(book.find("U-1")->phase == ucid_call_phase::missed);
  CHECK(late.entries.empty());
  CHECK(late.dispositions.empty());
  // Agent events: the newest word wins, a late one is history.
  ozonetel_agent_event ready{"agent007", "ready", "Ready", t0 + 20 * second, 0};
  ozonetel_agent_event old{"agent007", "paused", "Pause", t0 + 15 * second, 0};
  book.on_agent_event(ready, t0 + 21 * second);
  book.on_agent_event(old, t0 + 22 * second);
  CHECK(book.agent_view("agent007").cloudagent_state == "ready");
  CHECK(book.agent_view("agent007").ready);
}

TEST_CASE("call book: a stored call in after-call work resumes after a "
          "restart; the default goes out when its time ran out while down") {
  std::string stored;
  {
    ozonetel_call_book book{agents_config()};
    call_effects out;
    book.on_call_event(call_event("Calling", "U-9", "agent007", t0), t0, out);
    book.on_call_event(call_event("Answered", "U-9", "agent007", t0 + second),
                       t0 + second, out);
    book.on_call_event(call_event("Disconnect", "U-9", "agent007",
                                  t0 + 60 * second),
                       t0 + 60 * second, out);
    auto changed = book.take_changed();
    CHECK(changed == std::vector<std::string>{"U-9"});
    stored = store::encode_ucid_call(*book.find("U-9"));
  }
  auto decoded = store::decode_ucid_call(stored);
  REQUIRE(decoded);
  CHECK(decoded->phase == ucid_call_phase::acw);
  CHECK(decoded->external_number == "9845012345");
  {
    // Back within the after-call-work time: the timer is armed again.
    ozonetel_call_book book{agents_config()};
    book.restore(*decoded);
    call_effects out;
    book.resume(t0 + 70 * second, out);
    CHECK(out.dispositions.empty());
    REQUIRE(out.timers.size() == 1);
    CHECK(out.timers[0].due == t0 + 90 * second);
  }
  {
    // Back after it: the default disposition goes out at once.
    ozonetel_call_book book{agents_config()};
    book.restore(*decoded);
    call_effects out;
    book.resume(t0 + 200 * second, out);
    REQUIRE(out.dispositions.size() == 1);
    CHECK(out.dispositions[0].disposition == "General");
    CHECK(out.dispositions[0].agent_id == "agent007");
    // Being sent when we stopped: sent again after the next restart.
    auto again = store::decode_ucid_call(
        store::encode_ucid_call(*book.find("U-9")));
    ozonetel_call_book next{agents_config()};
    next.restore(*again);
    call_effects resent;
    next.resume(t0 + 201 * second, resent);
    CHECK(resent.dispositions.size() == 1);
  }
}

TEST_CASE("call book: an entry stored with its call but never committed is "
          "found after a restart and written exactly once") {
  sb::test::for_each_backend("unwritten entries", [](const auto& backend) {
    auto db = sb::test::open_or_fail(backend.url);
    ozonetel_call_book book{agents_config()};
    call_effects out;
    for (auto ucid : {"U-1", "U-2", "U-3"}) {
      book.on_call_event(call_event("Answered", ucid, "someone", t0), t0, out);
      book.on_call_event(call_event("Disconnect", ucid, "someone",
                                    t0 + 30 * second),
                         t0 + 30 * second, out);
    }
    // Another agent's calls end without a disposition of ours: one entry
    // each, handed out; the state says so once stored and reloaded.
    REQUIRE(out.entries.size() == 3);
    CHECK(book.unconfirmed_entries()
          == std::vector<std::string>{"U-1", "U-2", "U-3"});
    auto reloaded = [&] {
      ozonetel_call_book next{agents_config()};
      for (auto ucid : {"U-1", "U-2", "U-3"}) {
        auto c = store::decode_ucid_call(
            store::encode_ucid_call(*book.find(ucid)));
        REQUIRE(c);
        next.restore(*c);
      }
      return next;
    };
    CHECK(reloaded().unconfirmed_entries().size() == 3);
    auto calls = [&](const ozonetel_call_book& b) {
      std::vector<completed_call> v;
      for (auto& u : b.unconfirmed_entries())
        v.push_back(to_completed(*b.find(u), "acme"));
      return v;
    };
    // Only U-1 reached the comms log before the process died.
    auto all = calls(book);
    std::vector<matched_call> committed{{all[0], caf::none, {}}};
    REQUIRE(db->write_calls(committed));
    auto unwritten = db->ozonetel_entries_unwritten(all);
    REQUIRE(unwritten);
    CHECK(*unwritten == std::vector<bool>{false, true, true});
    // Re-sent twice over (a second crash): still one row per call.
    std::vector<matched_call> resend{{all[1], caf::none, {}},
                                     {all[2], caf::none, {}}};
    std::vector<store::write_outcome> outcomes;
    REQUIRE(db->write_calls(resend, &outcomes));
    CHECK(outcomes == std::vector<store::write_outcome>{
                          store::write_outcome::inserted,
                          store::write_outcome::inserted});
    REQUIRE(db->write_calls(resend, &outcomes));
    CHECK(outcomes == std::vector<store::write_outcome>{
                          store::write_outcome::duplicate,
                          store::write_outcome::duplicate});
    auto count = db->count_comms();
    REQUIRE(count);
    CHECK(*count == 3);
    CHECK(*db->ozonetel_entries_unwritten(all)
          == std::vector<bool>{false, false, false});
    // A later report (the callback's recording) makes the stored row stale.
    auto later = all[0];
    later.recording = "https://rec.example/u1.mp3";
    CHECK(*db->ozonetel_entries_unwritten({later}) == std::vector<bool>{true});
    for (auto ucid : {"U-1", "U-2", "U-3"})
      book.confirm_entries(ucid);
    CHECK(book.unconfirmed_entries().empty());
    CHECK(reloaded().unconfirmed_entries().empty());
  });
}
