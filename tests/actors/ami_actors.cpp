// ami_parser, ami_connection and supervisor over real TCP against the
// replay server. The test's scoped actor stands in for the call tracker (and
// for the supervisor where one connection is tested alone): it receives what
// the actors send, with timeouts, and never sleeps.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/ami_connection.hpp"
#include "actors/ami_parser.hpp"
#include "actors/ami_supervisor.hpp"
#include "adapters/metrics/registry.hpp"
#include "messages/ami_connection_actor.hpp"
#include "messages/ami_parser_actor.hpp"
#include "messages/ami_supervisor_actor.hpp"
#include "messages/call_tracker_actor.hpp"
#include "messages/type_ids.hpp"
#include "tests/fixtures/actor_system.hpp"
#include "tests/fixtures/ami_server.hpp"

using namespace std::chrono_literals;
using sb::ami::replay_options;

namespace {

struct actor_fixture {
  sb::test::test_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;

  actor_fixture() {
    sys = std::make_unique<caf::actor_system>(cfg);
    self = std::make_unique<caf::scoped_actor>(*sys);
  }

  ~actor_fixture() {
    self.reset();
  }

  sb::call_tracker_actor as_tracker() {
    return caf::actor_cast<sb::call_tracker_actor>(self->ptr());
  }

  sb::ami_supervisor_actor as_supervisor() {
    return caf::actor_cast<sb::ami_supervisor_actor>(self->ptr());
  }

  /// Everything that reached the scoped actor in its stand-in roles.
  struct seen_log {
    std::vector<std::string> frames;
    std::vector<std::string> lost;
    std::vector<std::string> states;
    std::vector<std::pair<caf::actor_addr, std::string>> exits;
  } seen;

  /// Receives (and records) messages until `done()` holds; false when
  /// nothing arrived for `idle`.
  template <class Predicate>
  bool receive_until(Predicate done, std::chrono::milliseconds idle = 10s) {
    bool timed_out = false;
    auto record = [&](sb::ami_event_batch& batch) {
      for (auto& ev : batch.events) {
        CHECK(ev.pbx == batch.pbx);
        // The answer to the re-sync after each login is not part of the
        // replayed capture.
        if (ev.text.rfind("Event: CoreShowChannel", 0) == 0)
          continue;
        seen.frames.push_back(std::move(ev.text));
      }
    };
    while (!done() && !timed_out) {
      (*self)->receive(
          [&](sb::ami_event_batch& batch) { record(batch); },
          // A supervised parser asks for credit: the stand-in tracker
          // grants it at once.
          [&](sb::ami_event_batch& batch, sb::credit_atom) {
            record(batch);
            return true;
          },
          [&](sb::connection_lost_atom, std::string& pbx) {
            seen.lost.push_back(pbx);
          },
          [&](sb::connected_atom, std::string& pbx, sb::connection_state state) {
            CHECK(pbx == "main");
            seen.states.push_back(sb::to_string(state));
          },
          [&](caf::down_msg& down) {
            seen.exits.emplace_back(down.source,
                                    sb::exit_reason_text(*sys, down.reason));
          },
          caf::after(idle) >> [&] { timed_out = true; });
    }
    return !timed_out;
  }

  bool receive_events(size_t count) {
    return receive_until([&] { return seen.frames.size() >= count; });
  }

  /// The exit reason text of a monitored actor.
  std::string receive_exit(const caf::actor_addr& who) {
    auto find = [&]() -> const std::string* {
      for (auto& [addr, text] : seen.exits)
        if (addr == who)
          return &text;
      return nullptr;
    };
    if (!receive_until([&] { return find() != nullptr; }))
      return "(no down message)";
    return *find();
  }

  std::vector<sb::connection_status>
  status(const sb::ami_supervisor_actor& sup) {
    std::vector<sb::connection_status> result;
    (*self)
        ->request(sup, 5s, sb::status_atom_v)
        .receive([&](std::vector<sb::connection_status>& xs) { result = xs; },
                 [&](caf::error& err) { FAIL(sys->render(err)); });
    return result;
  }
};

sb::backoff_policy fast_backoff() {
  sb::backoff_policy policy;
  policy.initial = 20ms;
  policy.max = 2000ms;
  policy.healthy = 60s;
  policy.jitter = 0.25;
  return policy;
}

} // namespace

TEST_CASE_METHOD(actor_fixture,
                 "parser turns frames into events and counts what it rejects",
                 "[ami][actors]") {
  auto parser = sb::spawn_ami_parser(*sys, "parser-test", as_tracker());
  auto& reg = sb::metrics::global();
  auto& malformed
      = reg.get_counter("switchboard_ami_frames_rejected_total", "",
                        {{"pbx", "parser-test"}, {"reason", "malformed"}});
  auto& not_event
      = reg.get_counter("switchboard_ami_frames_rejected_total", "",
                        {{"pbx", "parser-test"}, {"reason", "not_event"}});
  auto& hangups
      = reg.get_counter("switchboard_ami_events_total", "",
                        {{"pbx", "parser-test"}, {"event", "Hangup"}});
  auto malformed0 = malformed.value();
  auto not_event0 = not_event.value();
  auto hangups0 = hangups.value();
  sb::ami_frame_batch batch;
  batch.pbx = "parser-test";
  batch.received = caf::make_timestamp();
  batch.frames = {
      "Event: Hangup\r\nChannel: PJSIP/1001-00000001\r\nCause: 16",
      "this line has no colon",
      std::string{"Event: Newchannel\r\nChannel: A\0B", 32},
      "Response: Success\r\nActionID: 99\r\nMessage: unsolicited",
      "Event: Hangup\r\nChannel: PJSIP/1002-00000002\r\nCause: 17",
  };
  (*self)->send(parser, std::move(batch));
  REQUIRE(receive_events(2));
  REQUIRE(seen.frames.size() == 2);
  CHECK(seen.frames[0].find("PJSIP/1001") != std::string::npos);
  CHECK(seen.frames[1].find("PJSIP/1002") != std::string::npos);
  CHECK(malformed.value() - malformed0 == 2);
  CHECK(not_event.value() - not_event0 == 1);
  CHECK(hangups.value() - hangups0 == 2);
  // The parser survives garbage and keeps working.
  sb::ami_frame_batch more;
  more.pbx = "parser-test";
  more.frames = {std::string(3, '\0'), "Event: Hangup\r\nCause: 1"};
  (*self)->send(parser, std::move(more));
  REQUIRE(receive_events(3));
  CHECK(seen.frames.size() == 3);
  CHECK(malformed.value() - malformed0 == 3);
  (*self)->send_exit(parser, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture,
                 "supervised connection delivers the whole capture in order",
                 "[ami][actors]") {
  replay_options options;
  options.capture_path = sb::test::ami_capture("dev-11-burst-50");
  auto server = sb::test::start_replay(options);
  REQUIRE(server->capture_events() == 4062);
  auto sup
      = sys->spawn(sb::ami_supervisor,
                   std::vector<sb::pbx_config>{sb::test::local_pbx(*server)},
                   as_tracker(), fast_backoff());
  REQUIRE(receive_events(server->capture_events()));
  CHECK(seen.frames.size() == server->capture_events());
  CHECK(seen.frames == server->capture_frames());
  CHECK(seen.lost.empty());
  auto st = status(sup);
  REQUIRE(st.size() == 1);
  CHECK(st[0].pbx == "main");
  CHECK(st[0].restarts == 0);
  CHECK(st[0].last_error.empty());
  CHECK(server->connections() == 1);
  (*self)->send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture,
                 "a wrong secret fails with the PBX named and backs off",
                 "[ami][actors]") {
  replay_options options;
  options.capture_path
      = sb::test::ami_capture("dev-01-inbound-answered-caller-hangup");
  options.secret = "not-what-we-send";
  auto server = sb::test::start_replay(options);

  SECTION("the connection exits with a clear reason") {
    auto parser = sb::spawn_ami_parser(*sys, "main", as_tracker());
    auto conn = sb::spawn_ami_connection(*sys, sb::test::local_pbx(*server),
                                         parser, as_tracker(), as_supervisor());
    (*self)->monitor(conn);
    CHECK(receive_exit(conn.address())
          == "pbx main: authentication failed: Authentication failed");
    (*self)->send_exit(parser, caf::exit_reason::user_shutdown);
  }

  SECTION("the supervisor retries with growing delays") {
    auto policy = fast_backoff();
    policy.initial = 50ms;
    auto sup
        = sys->spawn(sb::ami_supervisor,
                     std::vector<sb::pbx_config>{sb::test::local_pbx(*server)},
                     as_tracker(), policy);
    REQUIRE(server->wait_for_actions("Login", 5, 10s));
    auto times = server->login_times();
    (*self)->send_exit(sup, caf::exit_reason::user_shutdown);
    REQUIRE(times.size() >= 5);
    std::vector<double> gaps;
    for (size_t i = 1; i < 5; ++i)
      gaps.push_back(
          std::chrono::duration<double, std::milli>(times[i] - times[i - 1])
              .count());
    INFO("gaps (ms): " << gaps[0] << " " << gaps[1] << " " << gaps[2] << " "
                       << gaps[3]);
    // Never faster than the jittered initial delay, and doubling: 50, 100,
    // 200, 400 ms, each drawn from [75 %, 100 %].
    CHECK(gaps[0] >= 37);
    for (size_t i = 1; i < gaps.size(); ++i)
      CHECK(gaps[i] > gaps[i - 1] * 1.2);
  }
}

TEST_CASE_METHOD(actor_fixture,
                 "supervisor reports state, last error and restarts",
                 "[ami][actors]") {
  replay_options options;
  options.capture_path
      = sb::test::ami_capture("dev-01-inbound-answered-caller-hangup");
  options.secret = "not-what-we-send";
  auto server = sb::test::start_replay(options);
  auto policy = fast_backoff();
  policy.initial = 10ms;
  auto sup
      = sys->spawn(sb::ami_supervisor,
                   std::vector<sb::pbx_config>{sb::test::local_pbx(*server)},
                   as_tracker(), policy);
  REQUIRE(server->wait_for_actions("Login", 3, 10s));
  // The third login means the supervisor has handled two failures.
  auto st = status(sup);
  REQUIRE(st.size() == 1);
  CHECK(st[0].pbx == "main");
  CHECK(st[0].restarts >= 2);
  CHECK(st[0].last_error
        == "pbx main: authentication failed: Authentication failed");
  CHECK((st[0].state == sb::connection_state::connecting
         || st[0].state == sb::connection_state::backing_off));
  CHECK(st[0].since > 0);
  auto& reconnects = sb::metrics::global().get_counter(
      "switchboard_ami_reconnects_total", "", {{"pbx", "main"}});
  CHECK(reconnects.value() >= 2);
  (*self)->send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "MD5 challenge login through the actors",
                 "[ami][actors]") {
  replay_options options;
  options.capture_path = sb::test::ami_capture("dev-09-internal");
  options.require_md5 = true;
  auto server = sb::test::start_replay(options);
  auto pbx = sb::test::local_pbx(*server);
  pbx.auth = sb::ami_auth::md5;
  auto parser = sb::spawn_ami_parser(*sys, "main", as_tracker());
  auto conn = sb::spawn_ami_connection(*sys, pbx, parser, as_tracker(),
                                       as_supervisor());
  REQUIRE(receive_until([&] { return seen.states.size() >= 2; }));
  CHECK(seen.states == std::vector<std::string>{"connecting", "logged_in"});
  REQUIRE(receive_events(server->capture_events()));
  CHECK(seen.frames == server->capture_frames());
  auto actions = server->actions();
  REQUIRE(actions.size() >= 2);
  CHECK(actions[0].name == "Challenge");
  CHECK(actions[1].get("AuthType") == "MD5");
  CHECK_FALSE(actions[1].has("Secret"));
  (*self)->send_exit(conn, caf::exit_reason::user_shutdown);
  (*self)->send_exit(parser, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a late Ping answer kills the connection",
                 "[ami][actors]") {
  replay_options options;
  options.capture_path
      = sb::test::ami_capture("dev-03-inbound-missed-ring-timeout");
  options.ping = replay_options::ping_reply::late;
  options.ping_delay = 2000ms;
  auto server = sb::test::start_replay(options);
  auto pbx = sb::test::local_pbx(*server);
  pbx.ping_interval_seconds = 0.05;
  pbx.ping_timeout_seconds = 0.25;
  auto parser = sb::spawn_ami_parser(*sys, "main", as_tracker());
  auto conn = sb::spawn_ami_connection(*sys, pbx, parser, as_tracker(),
                                       as_supervisor());
  (*self)->monitor(conn);
  // The events arrive, then the Ping goes unanswered in time.
  REQUIRE(receive_events(server->capture_events()));
  CHECK(seen.frames == server->capture_frames());
  CHECK(receive_exit(conn.address())
        == "pbx main: no answer to Ping within 0.25 s, connection considered "
           "dead");
  // A logged-in session dropped: the tracker hears of it.
  REQUIRE(receive_until([&] { return !seen.lost.empty(); }));
  CHECK(seen.lost == std::vector<std::string>{"main"});
  (*self)->send_exit(parser, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture,
                 "server closing mid-stream: the supervisor reconnects and "
                 "the rest arrives",
                 "[ami][actors]") {
  replay_options options;
  options.capture_path = sb::test::ami_capture("dev-11-burst-50");
  options.close_after_events = 1000;
  auto server = sb::test::start_replay(options);
  auto sup
      = sys->spawn(sb::ami_supervisor,
                   std::vector<sb::pbx_config>{sb::test::local_pbx(*server)},
                   as_tracker(), fast_backoff());
  REQUIRE(receive_events(server->capture_events()));
  // Nothing lost, nothing twice, in order across the reconnect.
  CHECK(seen.frames.size() == 4062);
  CHECK(seen.frames == server->capture_frames());
  CHECK(seen.lost == std::vector<std::string>{"main"});
  CHECK(server->connections() == 2);
  auto st = status(sup);
  REQUIRE(st.size() == 1);
  CHECK(st[0].restarts == 1);
  CHECK(st[0].last_error == "pbx main: connection closed by the PBX");
  (*self)->send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture,
                 "login response and first events in one segment: none lost",
                 "[ami][actors]") {
  replay_options options;
  options.capture_path = sb::test::ami_capture("dev-15-inbound-queue");
  options.events_with_login_response = 100;
  auto server = sb::test::start_replay(options);
  auto sup
      = sys->spawn(sb::ami_supervisor,
                   std::vector<sb::pbx_config>{sb::test::local_pbx(*server)},
                   as_tracker(), fast_backoff());
  REQUIRE(receive_events(server->capture_events()));
  CHECK(seen.frames == server->capture_frames());
  // FullyBooted is the first event after the login response.
  REQUIRE(!seen.frames.empty());
  CHECK(seen.frames.front().rfind("Event: FullyBooted", 0) == 0);
  (*self)->send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture,
                 "a healthy session resets the backoff, a short one doubles it",
                 "[ami][actors]") {
  replay_options options;
  options.capture_path
      = sb::test::ami_capture("dev-01-inbound-answered-caller-hangup");
  options.close_after_events = 5;
  options.max_drops = 4;
  auto gaps_with = [&](std::chrono::milliseconds healthy,
                       replay_options server_options) {
    auto server = sb::test::start_replay(server_options);
    auto policy = fast_backoff();
    policy.initial = 25ms;
    policy.healthy = healthy;
    auto sup
        = sys->spawn(sb::ami_supervisor,
                     std::vector<sb::pbx_config>{sb::test::local_pbx(*server)},
                     as_tracker(), policy);
    CHECK(server->wait_for_actions("Login", 5, 10s));
    auto times = server->login_times();
    (*self)->send_exit(sup, caf::exit_reason::user_shutdown);
    std::vector<double> gaps;
    for (size_t i = 1; i < times.size(); ++i)
      gaps.push_back(
          std::chrono::duration<double, std::milli>(times[i] - times[i - 1])
              .count());
    return gaps;
  };
  // Every session counts as healthy: each retry starts from 25 ms again.
  auto reset = gaps_with(0ms, options);
  REQUIRE(reset.size() >= 4);
  // Doubling would make the fourth wait at least 25 * 8 * 0.75 = 150 ms.
  CHECK(*std::max_element(reset.begin(), reset.end()) < 140);
  // Short sessions that streamed events count as healthy too: the PBX
  // really served them.
  auto streamed = gaps_with(60s, options);
  REQUIRE(streamed.size() >= 4);
  CHECK(*std::max_element(streamed.begin(), streamed.end()) < 140);
  // Sessions that log in and fail before any event must last a minute to
  // count: the waits double.
  auto silent = options;
  silent.close_after_events = 0;
  silent.drop_after_login = true;
  auto doubling = gaps_with(60s, silent);
  REQUIRE(doubling.size() >= 4);
  CHECK(doubling[3] >= 150);
  CHECK(doubling[3] > doubling[1]);
}
