// ucid_calls against the local CloudAgent stand-in: one state per UCID,
// exactly one disposition and one comms-log entry per call, the
// outbound-pending flag bound to its dial, after-call work that always ends.

#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>

#include "adapters/metrics/registry.hpp"
#include "adapters/store/database.hpp"
#include "core/log.hpp"
#include "tests/fixtures/deterministic_actor_system.hpp"
#include "tests/fixtures/ozonetel_support.hpp"
#include "tests/fixtures/temp_dir.hpp"
#include "tests/actors/stepped_calls.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> awaiting_ucids(const ozonetel_agent_view& v) {
  std::vector<std::string> out;
  for (auto& a : v.awaiting_disposition)
    out.push_back(a.ucid);
  return out;
}


/// Polls `pred` (each poll is a round trip to an actor) until it holds or
/// `timeout` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

double live_gauge() {
  return metrics::global()
      .get_gauge("switchboard_calls_live", "Calls in progress, by source.",
                 {{"source", "ozonetel"}})
      .value();
}

ozonetel_agent_view view_of(calls_env& t) {
  return t.ask<ozonetel_agent_view>(agent_state_atom_v);
}

std::string callback_form(const ozonetel_server& fake, const std::string& ucid,
                          const std::string& type, const std::string& status,
                          const std::string& caller,
                          const std::string& disposition = {}) {
  return fake.callback_form(
      {{"monitorUCID", ucid},
       {"CallerID", caller},
       {"Did", fake.opts().did},
       {"CampaignName", fake.opts().campaign},
       {"AgentID", fake.opts().agent_id},
       {"StartTime", "2026-11-21 10:00:00"},
       {"EndTime", "2026-11-21 10:02:05"},
       {"Duration", "00:02:05"},
       {"CallDuration", status == "Answered" ? "00:01:40" : "00:00:00"},
       {"Status", status},
       {"DialStatus", status == "Answered" ? "answered" : "no_answer"},
       {"Disposition", disposition},
       {"HangupBy", "CustomerHangup"},
       {"Type", type},
       {"AudioFile", "https://rec.example/a.mp3"}});
}

ucid_reply send_callback(calls_env& t, const std::string& form) {
  return t.ask<ucid_reply>(callback_atom_v, details_from_form(form));
}

} // namespace

TEST_CASE(
    "calls: dial -> answered -> ended -> dispose: one disposition, one entry",
    "[ucid]") {
  ozonetel_server fake;
  auto cfg = config_for(fake);
  calls_env t{cfg};

  auto dial = t.dial("+91 98450-12345");
  REQUIRE(dial.code == ucid_reply_code::ok);
  REQUIRE_FALSE(dial.ucid.empty());
  CHECK(dial.state == "dialing");
  auto ucid = dial.ucid;
  auto d = fake.requests("/ca_apis/AgentManualDial").at(0);
  CHECK(d.json("customerNumber") == "+919845012345");
  CHECK(d.json("UCID") == "true");

  CHECK(t.event(ucid, "ringing").state == "ringing");
  CHECK(t.event(ucid, "answered").state == "answered");
  CHECK(live_gauge() == 1);
  fake.end_call(ucid);
  CHECK(t.event(ucid, "ended").state == "acw");
  CHECK(live_gauge() == 0);
  CHECK(fake.agent_state() == "ACW");

  auto disposed = t.dispose(ucid, "APPOINTMENT_BOOKED", "Tuesday 10:00");
  CHECK(disposed.code == ucid_reply_code::ok);
  CHECK(disposed.state == "disposed");
  CHECK(disposed.disposition == "Appointment Booked");
  CHECK(fake.agent_state() == "READY"); // autoRelease ended after-call work

  auto sets = fake.requests("/ca_apis/DispositionAPIV2");
  REQUIRE(sets.size() == 1);
  auto& s = sets[0];
  CHECK(s.json("userName") == fake.opts().account);
  CHECK(s.json("agentID") == fake.opts().agent_id);
  CHECK(s.json("did") == fake.opts().did);
  CHECK(s.json("ucid") == ucid);
  CHECK(s.json("action") == "Set");
  CHECK(s.json("disposition") == "Appointment Booked");
  CHECK(s.json("autoRelease") == "true");
  CHECK(s.json("comments") == "Tuesday 10:00");
  CHECK(s.header("Authorization") == "Bearer " + fake.issued_tokens().at(0));

  REQUIRE(t.sink->wait_for(1, 5s));
  auto c = t.sink->snapshot().at(0);
  CHECK(c.source == "ozonetel");
  CHECK(c.ext_message_id == ucid);
  CHECK(c.ucid == ucid);
  CHECK(c.origin == fake.opts().account);
  CHECK(c.direction == call_direction::outbound);
  CHECK(c.external_number == "+919845012345");
  CHECK(c.extension == fake.opts().agent_id);
  CHECK(c.disposition == call_disposition::answered);
  CHECK(c.answered_at >= c.started_at);
  CHECK(c.ended_at >= c.answered_at);
  CHECK(c.notes.find("Appointment Booked") != std::string::npos);
  CHECK(c.notes.find("APPOINTMENT_BOOKED") != std::string::npos);
  CHECK(c.notes.find("Tuesday 10:00") != std::string::npos);

  // A second disposition is refused without asking CloudAgent.
  auto again = t.dispose(ucid, "INFO_PROVIDED");
  CHECK(again.code == ucid_reply_code::conflict);
  CHECK(fake.count("/ca_apis/DispositionAPIV2") == 1);
  CHECK_FALSE(t.sink->wait_for(2, 300ms));
  CHECK(t.ask<std::vector<live_call>>(active_atom_v).empty());
}

TEST_CASE("calls: disposing during the call is queued and completes at the end",
          "[ucid]") {
  ozonetel_server fake;
  calls_env t{config_for(fake)};
  auto ucid = t.dial("9845012345").ucid;
  REQUIRE_FALSE(ucid.empty());
  t.event(ucid, "answered");
  auto early = t.dispose(ucid, "INFO_PROVIDED");
  CHECK(early.code
        == ucid_reply_code::accepted); // "Disposition Queued Successfully"
  CHECK(early.state == "answered");
  CHECK_FALSE(t.sink->wait_for(1, 200ms));
  fake.end_call(ucid);
  CHECK(t.event(ucid, "ended").state == "disposed");
  REQUIRE(t.sink->wait_for(1, 5s));
  CHECK(fake.count("/ca_apis/DispositionAPIV2") == 1);
  CHECK(fake.agent_state() == "READY");
}

TEST_CASE("calls: callback before the disposition gives one complete entry",
          "[ucid]") {
  ozonetel_server fake;
  calls_env t{config_for(fake)};
  const std::string ucid = "9300000000000042";
  fake.add_inbound_call(ucid);
  // The browser names an inbound call by its X-UCID.
  auto ring = t.event("", "ringing", ucid, "+919800000001");
  CHECK(ring.ucid == ucid);
  CHECK(ring.state == "ringing");
  t.event(ucid, "answered");
  fake.end_call(ucid);
  CHECK(t.event(ucid, "ended").state == "acw");

  auto cb = send_callback(
      t, callback_form(fake, ucid, "InBound", "Answered", "+919800000001"));
  CHECK(cb.code == ucid_reply_code::ok);
  CHECK(cb.state == "acw");
  CHECK_FALSE(t.sink->wait_for(1, 200ms)); // still waiting for the disposition

  CHECK(t.dispose(ucid, "INFO_PROVIDED", "asked about prices").code
        == ucid_reply_code::ok);
  REQUIRE(t.sink->wait_for(1, 5s));
  CHECK_FALSE(t.sink->wait_for(2, 300ms));
  auto c = t.sink->snapshot().at(0);
  CHECK(c.ext_message_id == ucid);
  CHECK(c.direction == call_direction::inbound);
  CHECK(c.external_number == "+919800000001");
  CHECK(c.did == fake.opts().did);
  CHECK(c.duration_seconds == 125); // CloudAgent's Duration
  CHECK(c.talk_seconds == 100);     // CloudAgent's CallDuration
  CHECK(c.billsec == 100);
  CHECK(c.notes.find("Information Given") != std::string::npos);
  CHECK(c.notes.find("asked about prices") != std::string::npos);
}

TEST_CASE("calls: callback after the disposition merges into the same entry",
          "[ucid]") {
  ozonetel_server fake;
  calls_env t{config_for(fake)};
  scratch_dir dir{"sb-ozonetel-merge"};
  auto db = store::database::open("sqlite:" + dir.file("crm.db"));
  REQUIRE(db);

  auto ucid = t.dial("+919845012345").ucid;
  REQUIRE_FALSE(ucid.empty());
  t.event(ucid, "answered");
  fake.end_call(ucid);
  t.event(ucid, "ended");
  REQUIRE(t.dispose(ucid, "APPOINTMENT_BOOKED").code == ucid_reply_code::ok);
  REQUIRE(t.sink->wait_for(1, 5s));
  auto cb = send_callback(
      t, callback_form(fake, ucid, "Manual", "Answered", "+919845012345"));
  CHECK(cb.state == "disposed");
  REQUIRE(t.sink->wait_for(2, 5s));
  auto calls = t.sink->snapshot();
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].ext_message_id == ucid);
  CHECK(calls[1].ext_message_id == ucid);
  CHECK(calls[1].duration_seconds == 125);
  CHECK(calls[1].notes == calls[0].notes);
  CHECK(fake.count("/ca_apis/DispositionAPIV2") == 1);

  // Through the real store: the writer's merge keeps one row per UCID.
  std::vector<matched_call> rows;
  for (auto& c : calls)
    rows.push_back(matched_call{c, caf::none, "+919845012345"});
  REQUIRE((*db)->write_calls(rows));
  auto count = (*db)->count_comms();
  REQUIRE(count);
  CHECK(*count == 1);
  auto row = (*db)->find_comms("ozonetel", ucid);
  REQUIRE(row);
  REQUIRE(*row);
  CHECK((*row)->ucid == ucid);
  CHECK((*row)->body.find("Appointment Booked") != std::string::npos);
  db->reset();
}

TEST_CASE("calls: outbound pending belongs to one dial and expires", "[ucid]") {
  ozonetel_server fake;
  auto cfg = config_for(fake);
  cfg.pending_outbound_seconds = 0.3;
  calls_env t{cfg};

  auto first = t.dial("+919845012345");
  REQUIRE(first.code == ucid_reply_code::ok);
  CHECK(view_of(t).pending_outbound == first.ucid);
  // One dial at a time while its bridge is pending.
  CHECK(t.dial("+919845000000").code == ucid_reply_code::conflict);

  // An inbound call with its own X-UCID is never taken for the bridge.
  const std::string inbound = "9300000000000100";
  auto in = t.event("", "ringing", inbound, "+919811111111");
  CHECK(in.ucid == inbound);
  auto active = t.ask<std::vector<live_call>>(active_atom_v);
  REQUIRE(active.size() == 2);
  CHECK(view_of(t).pending_outbound == first.ucid);

  // The flag expires on its own...
  auto started = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return view_of(t).pending_outbound.empty(); }));
  CHECK(std::chrono::steady_clock::now() - started >= 200ms);
  // ...after which a leg without UCID is not bound to the old dial.
  auto stray = t.event("", "answered");
  CHECK(stray.code == ucid_reply_code::invalid);
  auto calls = t.ask<std::vector<live_call>>(active_atom_v);
  for (auto& c : calls)
    if (c.id == first.ucid)
      CHECK(c.state == live_call_state::dialing);
}

TEST_CASE("calls: the outbound flag clears at the dial's end; the next inbound "
          "is inbound",
          "[ucid]") {
  ozonetel_server fake;
  calls_env t{config_for(fake)};
  auto dial = t.dial("+919845012345");
  REQUIRE(dial.code == ucid_reply_code::ok);
  // A leg without UCID while the dial is pending: its bridge.
  auto bridge = t.event("", "ringing");
  CHECK(bridge.ucid == dial.ucid);
  // The customer never answers: the dial fails, the flag goes with it.
  fake.end_call(dial.ucid);
  auto failed = t.event(dial.ucid, "failed");
  CHECK(failed.state == "acw"); // a manual dial still needs its disposition
  CHECK(view_of(t).pending_outbound.empty());
  CHECK(t.event("", "ringing").code == ucid_reply_code::invalid);

  const std::string next = "9300000000000200";
  fake.add_inbound_call(next);
  auto in = t.event(next, "ringing", next, "+919822222222");
  CHECK(in.code == ucid_reply_code::ok);
  t.event(next, "answered");
  auto calls = t.ask<std::vector<live_call>>(active_atom_v);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].id == next);
  CHECK(calls[0].direction == call_direction::inbound);
  CHECK(calls[0].state == live_call_state::answered);
}

TEST_CASE("calls: no disposition within acw_timeout sends the default",
          "[ucid]") {
  ozonetel_server fake;
  auto cfg = config_for(fake);
  cfg.acw_timeout_seconds = 0.3;
  calls_env t{cfg};

  SECTION("answered call: the campaign default") {
    auto ucid = t.dial("+919845012345").ucid;
    t.event(ucid, "answered");
    fake.end_call(ucid);
    CHECK(t.event(ucid, "ended").state == "acw");
    REQUIRE(fake.wait_for("/ca_apis/DispositionAPIV2", 1, 5s));
    auto s = fake.requests("/ca_apis/DispositionAPIV2").at(0);
    CHECK(s.json("ucid") == ucid);
    CHECK(s.json("disposition") == "General");
    CHECK(s.json("autoRelease") == "true");
    REQUIRE(t.sink->wait_for(1, 5s));
    auto c = t.sink->snapshot().at(0);
    CHECK(c.notes.find("set automatically") != std::string::npos);
    CHECK(fake.agent_state() == "READY");
    // The agent's late choice is refused: the call is disposed.
    CHECK(t.dispose(ucid, "INFO_PROVIDED").code == ucid_reply_code::conflict);
    CHECK(fake.count("/ca_apis/DispositionAPIV2") == 1);
  }
  SECTION("unanswered dial: NO_ANSWER through the map") {
    auto ucid = t.dial("+919845012345").ucid;
    fake.end_call(ucid);
    t.event(ucid, "ended");
    REQUIRE(fake.wait_for("/ca_apis/DispositionAPIV2", 1, 5s));
    CHECK(fake.requests("/ca_apis/DispositionAPIV2").at(0).json("disposition")
          == "No Answer");
    REQUIRE(t.sink->wait_for(1, 5s));
    CHECK(t.sink->snapshot().at(0).disposition == call_disposition::no_answer);
  }
}

TEST_CASE("calls: CloudAgent down during a disposition: retried, not lost",
          "[ucid]") {
  // Both ways CloudAgent is down: it answers 5xx, or it drops connections.
  auto down = GENERATE(as<std::string>{}, "5xx", "dropped connections");
  INFO("CloudAgent down: " << down);
  ozonetel_server fake;
  auto cfg = config_for(fake);
  ucid_calls_options opts;
  opts.retry_initial = 50ms;
  opts.retry_max = 200ms;
  calls_env t{cfg, fast_session_options(), opts};
  auto ucid = t.dial("+919845012345").ucid;
  t.event(ucid, "answered");
  fake.end_call(ucid);
  t.event(ucid, "ended");

  fake.set_persistent_fault("/ca_apis/DispositionAPIV2",
                            down == "5xx" ? fault::http(503) : fault::drop());
  auto reply = t.dispose(ucid, "APPOINTMENT_BOOKED");
  CHECK(reply.code == ucid_reply_code::accepted);
  CHECK(reply.message.find("retrying") != std::string::npos);
  // Session retries plus ucid_calls retries, while CloudAgent stays down.
  REQUIRE(fake.wait_for("/ca_apis/DispositionAPIV2", 6, 10s));
  CHECK_FALSE(fake.disposed(ucid));
  CHECK(awaiting_ucids(view_of(t)) == std::vector<std::string>{ucid});
  // Meanwhile the agent cannot be shown Ready.
  CHECK(
      t.ask<ucid_reply>(agent_state_atom_v, std::string{"Ready"}, std::string{})
          .code
      == ucid_reply_code::conflict);
  fake.clear_faults();
  REQUIRE(t.sink->wait_for(1, 10s));
  CHECK(fake.disposed(ucid));
  auto c = t.sink->snapshot().at(0);
  CHECK(c.notes.find("Appointment Booked") != std::string::npos);
  CHECK(fake.agent_state() == "READY");
  CHECK(view_of(t).awaiting_disposition.empty());
  CHECK_FALSE(t.sink->wait_for(2, 300ms));
}

TEST_CASE("calls: a disposition whose answer was lost counts as done on retry",
          "[ucid]") {
  ozonetel_server fake;
  calls_env t{config_for(fake)};
  auto ucid = t.dial("+919845012345").ucid;
  t.event(ucid, "answered");
  fake.end_call(ucid);
  t.event(ucid, "ended");
  auto slow = fault::slow(
      2500ms); // CloudAgent saves it, but answers after our timeout
  fake.push_fault("/ca_apis/DispositionAPIV2", slow);
  auto reply = t.dispose(ucid, "INFO_PROVIDED");
  CHECK(reply.code == ucid_reply_code::ok);
  CHECK(reply.cloudagent.outcome == ozonetel_outcome::already_done);
  CHECK(reply.state == "disposed");
  REQUIRE(t.sink->wait_for(1, 5s));
  CHECK_FALSE(t.sink->wait_for(2, 300ms));
}

TEST_CASE("calls: callback-only calls: missed, and another agent's", "[ucid]") {
  ozonetel_server fake;
  calls_env t{config_for(fake)};
  auto missed
      = send_callback(t, callback_form(fake, "9300000000000300", "InBound",
                                       "NotAnswered", "+919833333333"));
  CHECK(missed.state == "missed");
  auto other_form = fake.callback_form({{"monitorUCID", "9300000000000301"},
                                        {"CallerID", "+919844444444"},
                                        {"AgentID", "someone_else"},
                                        {"Duration", "00:03:00"},
                                        {"CallDuration", "00:02:30"},
                                        {"Status", "Answered"},
                                        {"Type", "Progressive"},
                                        {"Disposition", "Sale"}});
  auto other = send_callback(t, other_form);
  CHECK(other.state == "disposed"); // disposed in CloudAgent already
  REQUIRE(t.sink->wait_for(2, 5s));
  auto calls = t.sink->snapshot();
  CHECK(calls[0].ext_message_id == "9300000000000300");
  CHECK(calls[0].direction == call_direction::inbound);
  CHECK(calls[0].disposition == call_disposition::no_answer);
  CHECK(calls[0].external_number == "+919833333333");
  CHECK(calls[1].ext_message_id == "9300000000000301");
  CHECK(calls[1].direction == call_direction::outbound);
  CHECK(calls[1].extension == "someone_else");
  CHECK(calls[1].talk_seconds == 150);
  CHECK(calls[1].notes.find("Sale") != std::string::npos);
  // Nothing of ours to dispose.
  CHECK(fake.count("/ca_apis/DispositionAPIV2") == 0);
  // A repeated callback updates the same entry, no new call state.
  send_callback(t, callback_form(fake, "9300000000000300", "InBound",
                                 "NotAnswered", "+919833333333"));
  REQUIRE(t.sink->wait_for(3, 5s));
  CHECK(t.sink->snapshot().at(2).ext_message_id == "9300000000000300");
}

TEST_CASE("calls: our agent's call known only from the callback still gets a "
          "disposition",
          "[ucid]") {
  ozonetel_server fake;
  auto cfg = config_for(fake);
  cfg.acw_timeout_seconds = 0.2;
  calls_env t{cfg};
  auto reply
      = send_callback(t, callback_form(fake, "9300000000000400", "InBound",
                                       "Answered", "+919855555555"));
  CHECK(reply.state == "acw");
  REQUIRE(fake.wait_for("/ca_apis/DispositionAPIV2", 1, 5s));
  CHECK(fake.requests("/ca_apis/DispositionAPIV2").at(0).json("ucid")
        == "9300000000000400");
  REQUIRE(t.sink->wait_for(1, 5s));
}

TEST_CASE("calls: requests that change nothing", "[ucid]") {
  ozonetel_server fake;
  calls_env t{config_for(fake)};
  // A UCID never seen is disposed all the same (the seat waits for it).
  CHECK(t.dispose("nope", "INFO_PROVIDED").code == ucid_reply_code::accepted);
  REQUIRE(fake.wait_for("/ca_apis/DispositionAPIV2", 1, 5s));
  CHECK(fake.requests("/ca_apis/DispositionAPIV2").at(0).json("agentID")
        == fake.opts().agent_id);
  auto ucid = t.dial("+919845012345").ucid;
  CHECK(t.dispose(ucid, "MADE_UP").code == ucid_reply_code::invalid);
  CHECK(t.dial("12").code == ucid_reply_code::invalid);
  // An unknown browser event cannot even be represented (the HTTP edge
  // answers 422 for it).
  browser_event unknown;
  CHECK_FALSE(from_string("exploded", unknown));
  CHECK(fake.count("/ca_apis/DispositionAPIV2") == 1);
  // CloudAgent refuses the dial: nothing is tracked.
  fake.set_agent_state("PAUSED");
  t.event(ucid, "ended");
  auto refused = t.ask<ucid_reply>(dial_atom_v,
                                   ozonetel_dial_request{"+919845099999", {}});
  CHECK(refused.code == ucid_reply_code::upstream);
  CHECK(refused.cloudagent.message == "Agent is not available");
}

TEST_CASE("calls: agent state: CloudAgent's word and ours; never Ready in ACW",
          "[ucid]") {
  ozonetel_server fake;
  calls_env t{config_for(fake)};
  auto ucid = t.dial("+919845012345").ucid;
  t.event(ucid, "answered");
  auto view = view_of(t);
  CHECK(view.agent_id == fake.opts().agent_id);
  // CloudAgent's word comes from its agent events only: none yet.
  CHECK(view.cloudagent_state == "unknown");
  CHECK_FALSE(view.ready);
  REQUIRE(view.current_call);
  CHECK(view.current_call->id == ucid);
  CHECK(view.current_call->state == live_call_state::answered);
  fake.end_call(ucid);
  t.event(ucid, "ended");
  auto ready = t.ask<ucid_reply>(agent_state_atom_v, std::string{"ready"},
                                 std::string{});
  CHECK(ready.code == ucid_reply_code::conflict);
  CHECK(ready.ucid == ucid);
  CHECK(fake.count("/ca_apis/changeAgentState") == 0);
  auto pause = t.ask<ucid_reply>(agent_state_atom_v, std::string{"Pause"},
                                 std::string{"Lunch"});
  CHECK(pause.code
        == ucid_reply_code::conflict); // CloudAgent: "is in ACW state"
  CHECK(t.dispose(ucid, "INFO_PROVIDED").code == ucid_reply_code::ok);
  auto ok = t.ask<ucid_reply>(agent_state_atom_v, std::string{"Pause"},
                              std::string{"Lunch"});
  CHECK(ok.code == ucid_reply_code::ok);
  CHECK(ok.state == "PAUSED");
  CHECK(t.ask<ucid_reply>(agent_state_atom_v, std::string{"Sleeping"},
                          std::string{})
            .code
        == ucid_reply_code::invalid);
}

TEST_CASE("calls: a dead session is respawned", "[ucid]") {
  ozonetel_server fake;
  auto cfg = config_for(fake);
  actor_env env;
  auto sink = std::make_shared<call_sink>();
  auto matcher = env.sys.spawn(sink_matcher, sink);
  auto spawned = std::make_shared<std::vector<ozonetel_session_actor>>();
  auto session_opts = fast_session_options();
  auto factory = [cfg, spawned, session_opts](caf::actor_system& sys) {
    auto s = sys.spawn(ozonetel_session, cfg, session_opts);
    spawned->push_back(s);
    return s;
  };
  ucid_calls_options opts;
  opts.restart_initial = 50ms;
  auto calls = env.sys.spawn(ucid_calls, cfg, matcher, factory, opts);
  caf::scoped_actor self{env.sys};
  auto dial = [&] {
    ucid_reply r;
    self->request(calls, 10s, dial_atom_v,
                  ozonetel_dial_request{"+919845012345", {}})
        .receive([&](ucid_reply& x) { r = x; },
                 [&](caf::error& e) { FAIL(to_string(e)); });
    return r;
  };
  auto first = dial();
  REQUIRE(first.code == ucid_reply_code::ok);
  REQUIRE(spawned->size() == 1);
  self->request(calls, 10s, browser_atom_v,
                browser_call_event{first.ucid, {}, browser_event::ended, {}, 0})
      .receive([](ucid_reply&) {}, [&](caf::error& e) { FAIL(to_string(e)); });
  self->send_exit(spawned->at(0), caf::exit_reason::kill);
  fake.set_agent_state("READY");
  REQUIRE(eventually([&] {
    fake.set_agent_state("READY");
    return dial().code == ucid_reply_code::ok;
  }));
  CHECK(spawned->size() == 2);
  self->send_exit(calls, caf::exit_reason::user_shutdown);
  self->send_exit(matcher, caf::exit_reason::user_shutdown);
}

TEST_CASE("calls: the api key, password and tokens never reach a log line",
          "[ucid]") {
  ozonetel_server fake;
  auto cfg = config_for(fake);
  cfg.acw_timeout_seconds = 0.2;
  sb::log::set_level(sb::log::level::debug);
  std::string logged;
  std::vector<completed_call> calls;
  ucid_calls_options opts;
  opts.retry_initial = 50ms;
  {
    stderr_capture capture;
    {
      calls_env t{cfg, fast_session_options(), opts};
      auto ucid = t.dial("+919845012345").ucid;
      t.event(ucid, "answered");
      fake.expire_tokens(); // a renewal on the way
      fake.push_fault(
          "/ca_apis/DispositionAPIV2",
          fault::http(500, R"({"status":"error","message":"boom","apiKey":")"
                               + fake.opts().api_key + "\"}"),
          3);
      fake.end_call(ucid);
      t.event(ucid, "ended");
      send_callback(
          t, callback_form(fake, ucid, "Manual", "Answered", "+919845012345"));
      REQUIRE(t.sink->wait_for(1, 5s));
      calls = t.sink->snapshot();
      // The wrong key is logged by nobody either.
      auto bad = cfg;
      bad.api_key = "wrong-key-SECRET-5555";
      calls_env t2{bad};
      CHECK(t2.dial("+919845012345").code == ucid_reply_code::upstream);
    }
    logged = capture.finish();
  }
  sb::log::set_level(sb::log::level::info);
  INFO(logged);
  CHECK_FALSE(logged.empty());
  CHECK(logged.find(fake.opts().api_key) == std::string::npos);
  CHECK(logged.find("wrong-key-SECRET-5555") == std::string::npos);
  CHECK(logged.find(fake.opts().agent_password) == std::string::npos);
  for (auto& token : fake.issued_tokens())
    CHECK(logged.find(token) == std::string::npos);
  for (auto& c : calls) {
    CHECK(c.notes.find(fake.opts().api_key) == std::string::npos);
    CHECK(c.notes.find("Apikey") == std::string::npos);
  }
}

// -- on the deterministic actor system ---------------------------------------
//
// The same actor with a scripted session on CAF's test coordinator and the
// scheduler's clock (tests/actors/stepped_calls.hpp).

TEST_CASE("calls, stepped: the outbound flag expires at "
          "pending_outbound_seconds",
          "[ucid][deterministic]") {
  stepped_calls_env t;
  auto dial = t.dial();
  REQUIRE(dial.code == ucid_reply_code::ok);
  CHECK(t.view().pending_outbound == dial.ucid);
  t.env.advance(29999ms);
  CHECK(t.view().pending_outbound == dial.ucid);
  t.env.advance(1ms);
  CHECK(t.view().pending_outbound.empty());
  CHECK(t.event({}, browser_event::answered).code == ucid_reply_code::invalid);
  // The next dial is free to go.
  CHECK(t.dial().code == ucid_reply_code::ok);
  CHECK(t.script->dials == 2);
}

TEST_CASE("calls, stepped: after-call work ends with the default at "
          "acw_timeout_seconds",
          "[ucid][deterministic]") {
  stepped_calls_env t;
  auto ucid = t.dial().ucid;
  t.event(ucid, browser_event::answered);
  t.env.advance(60s);
  CHECK(t.event(ucid, browser_event::ended).state == "acw");
  CHECK(live_gauge() == 0);
  t.env.advance(29999ms);
  CHECK(t.script->dispositions.empty());
  CHECK(t.entries() == 0);
  t.env.advance(1ms);
  REQUIRE(t.script->dispositions.size() == 1);
  CHECK(t.script->dispositions[0].ucid == ucid);
  CHECK(t.script->dispositions[0].disposition == "General");
  REQUIRE(t.entries() == 1);
  auto c = t.sink->snapshot().at(0);
  CHECK(c.notes.find("set automatically") != std::string::npos);
  CHECK(c.ended_at - c.answered_at == 60'000'000);
  CHECK(c.talk_seconds == 60);
  CHECK(t.dispose(ucid, "INFO_PROVIDED").code == ucid_reply_code::conflict);
  t.env.advance(1h);
  CHECK(t.script->dispositions.size() == 1);
  CHECK(t.entries() == 1);
}

TEST_CASE("calls, stepped: CloudAgent down: retries after 2, 4, 8 s",
          "[ucid][deterministic]") {
  stepped_calls_env t;
  auto ucid = t.dial().ucid;
  t.event(ucid, browser_event::answered);
  t.event(ucid, browser_event::ended);
  t.script->dispose_outcomes
      = {ozonetel_outcome::server_error, ozonetel_outcome::server_error,
         ozonetel_outcome::network_error, ozonetel_outcome::unavailable};
  auto reply = t.dispose(ucid, "APPOINTMENT_BOOKED");
  CHECK(reply.code == ucid_reply_code::accepted);
  CHECK(reply.message.find("retrying") != std::string::npos);
  CHECK(t.script->dispositions.size() == 1);
  auto attempts_after = [&](std::chrono::milliseconds d) {
    t.env.advance(d);
    return t.script->dispositions.size();
  };
  CHECK(attempts_after(1999ms) == 1);
  CHECK(attempts_after(1ms) == 2);
  CHECK(attempts_after(3999ms) == 2);
  CHECK(attempts_after(1ms) == 3);
  CHECK(attempts_after(7999ms) == 3);
  CHECK(attempts_after(1ms) == 4);
  // Meanwhile the seat is in after-call work: never Ready.
  CHECK(awaiting_ucids(t.view()) == std::vector<std::string>{ucid});
  CHECK(
      t.ask<ucid_reply>(agent_state_atom_v, std::string{"Ready"}, std::string{})
          .code
      == ucid_reply_code::conflict);
  CHECK(attempts_after(16s) == 5);
  REQUIRE(t.entries() == 1);
  for (auto& d : t.script->dispositions)
    CHECK(d.disposition == "Appointment Booked");
  CHECK(t.view().awaiting_disposition.empty());
  CHECK(attempts_after(10min) == 5);
  CHECK(t.entries() == 1);
}

TEST_CASE("calls, stepped: the sweep closes a call that never ends and "
          "forgets finished ones",
          "[ucid][deterministic]") {
  ucid_calls_options opts;
  opts.sweep_interval = 60s;
  opts.max_call_age = 2h;
  opts.finished_retention = 1h;
  stepped_calls_env t{scripted_config(), opts};
  CHECK(t.event("9300000000000500", browser_event::ringing).state == "ringing");
  CHECK(live_gauge() == 1);
  t.env.advance(2h);
  CHECK(t.entries() == 0);
  t.env.advance(60s);
  REQUIRE(t.entries() == 1);
  auto c = t.sink->snapshot().at(0);
  CHECK(c.ext_message_id == "9300000000000500");
  CHECK(c.incomplete);
  CHECK(c.disposition == call_disposition::no_answer);
  CHECK(live_gauge() == 0);
  CHECK(t.ask<std::vector<live_call>>(active_atom_v).empty());
  // Kept for an hour (a second dispose is refused), then forgotten at the
  // first sweep after it.
  t.env.advance(1h);
  CHECK(t.dispose("9300000000000500", "INFO_PROVIDED").code
        == ucid_reply_code::conflict);
  t.env.advance(60s);
  // Forgotten: a dispose now goes to CloudAgent as for any UCID unseen.
  auto sent = t.script->dispositions.size();
  t.dispose("9300000000000500", "INFO_PROVIDED");
  CHECK(t.script->dispositions.size() == sent + 1);
}

TEST_CASE("calls, stepped: a dead session is respawned after restart_initial",
          "[ucid][deterministic]") {
  ucid_calls_options opts;
  opts.restart_initial = 1s;
  stepped_calls_env t{scripted_config(), opts};
  REQUIRE(t.script->spawned == 1);
  caf::anon_send_exit(t.sessions.at(0), caf::exit_reason::kill);
  t.env.run();
  CHECK(t.dial().code == ucid_reply_code::unavailable);
  t.env.advance(999ms);
  CHECK(t.script->spawned == 1);
  t.env.advance(1ms);
  CHECK(t.script->spawned == 2);
  CHECK(t.dial().code == ucid_reply_code::ok);
}
