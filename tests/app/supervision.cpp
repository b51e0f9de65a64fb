// Root supervision, end to end: a pipeline actor killed while a burst of
// calls streams in is restarted (and counted), the actors that send to it
// are rewired, and the calls that follow still reach the comms log. One that
// keeps dying makes the server give up.

#include <atomic>
#include <mutex>

#include "actors/ami_supervisor.hpp"
#include "tests/fixtures/e2e_support.hpp"
#include "tests/fixtures/ozonetel_support.hpp"

namespace {

using namespace sb;
using namespace sb::e2e;
using namespace std::chrono_literals;

const char* burst = "dev-11-burst-50";

double restarts_of(const std::string& actor) {
  return test::counter_value("switchboard_actor_restarts_total",
                             {{"actor", actor}});
}

/// The AMI parser of the server's one PBX, read from its supervisor's state
/// (the supervisor is idle between messages while the test reads it).
caf::actor parser_of(server& srv) {
  using supervisor_type
      = caf::stateful_actor<ami_supervisor_state, ami_supervisor_actor::base>;
  auto* sup = caf::actor_cast<caf::abstract_actor*>(srv.supervisor());
  auto& st = dynamic_cast<supervisor_type&>(*sup).state;
  return st.connections.empty()
           ? caf::actor{}
           : caf::actor_cast<caf::actor>(st.connections.front().parser);
}

/// The handle of the singleton called `name` in `srv`.
caf::actor handle_of(server& srv, const std::string& name) {
  if (name == "ami_parser")
    return parser_of(srv);
  if (name == "comms_log_writer")
    return caf::actor_cast<caf::actor>(srv.writer());
  if (name == "customer_matcher")
    return caf::actor_cast<caf::actor>(srv.matcher());
  if (name == "call_tracker")
    return caf::actor_cast<caf::actor>(srv.tracker());
  return caf::actor_cast<caf::actor>(srv.supervisor());
}

/// Streams the burst at a pace, kills `name` when a third of it is out,
/// and checks that it came back and that calls kept arriving.
void killed_mid_stream_comes_back(const std::string& name) {
  INFO("killed: " << name);
  auto b = sqlite_backend();
  auto expected = test::load_expected(burst);
  auto reader = open_db(b.url);
  seed_customers(*reader, expected);
  ami::replay_options options;
  options.capture_path = test::ami_capture(burst);
  options.events_per_second = 3000; // the burst takes about 1.4 s
  auto pbx = test::start_replay(options);
  test::pipeline p{b.url, b.dir_file("spool"), *pbx, fresh_pbx_name()};
  auto before = restarts_of(name);
  REQUIRE(test::wait_until([&] { return pbx->events_sent() >= 1200; }, 10s,
                           5ms));
  auto old = handle_of(p.srv(), name);
  REQUIRE(old);
  caf::anon_send_exit(old, caf::exit_reason::kill);
  REQUIRE(test::wait_until(
      [&] {
        auto now = handle_of(p.srv(), name);
        return now && now != old;
      },
      10s, 5ms));
  // A handle keeps a dead detached actor's thread waiting: let it go.
  old = nullptr;
  auto rows_at_restart = count_rows(*reader);
  CHECK(restarts_of(name) - before == 1);
  // The capture's last call begins after the kill: it must be logged, and
  // complete.
  const auto& last = expected.calls.back();
  bool logged = test::wait_until(
      [&] {
        auto found = reader->find_comms("ami", last.linkedid);
        return found && *found && pbx->events_sent() == pbx->capture_events();
      },
      20s, 10ms);
  CHECK(logged);
  CHECK(count_rows(*reader) > rows_at_restart);
  CHECK(count_rows(*reader) <= static_cast<int64_t>(expected.calls.size()));
  p.stop();
}

} // namespace

TEST_CASE("a pipeline actor killed mid-stream is restarted, counted and "
          "rewired; calls keep arriving",
          "[supervision]") {
  quiet_logs();
  for (auto name :
       {"comms_log_writer", "customer_matcher", "call_tracker", "ami_supervisor",
        "ami_parser"})
    killed_mid_stream_comes_back(name);
}

TEST_CASE("a pipeline actor that keeps dying makes the server give up",
          "[supervision]") {
  quiet_logs();
  auto b = sqlite_backend();
  ami::replay_options options;
  options.capture_path = test::ami_capture("dev-01-inbound-answered-caller-hangup");
  auto pbx = test::start_replay(options);
  std::mutex mtx;
  std::string reason;
  std::atomic<int> calls{0};
  test::pipeline p{b.url, b.dir_file("spool"), *pbx, fresh_pbx_name(),
                   [&](app_config&, server_options& opts) {
                     opts.max_restarts = 2;
                     opts.restart_window = std::chrono::seconds{60};
                     opts.on_give_up = [&](const std::string& why) {
                       std::lock_guard<std::mutex> guard{mtx};
                       reason = why;
                       ++calls;
                     };
                   }};
  // Two restarts are within the budget, the third death is one too many.
  for (int i = 0; i < 3; ++i) {
    auto old = caf::actor_cast<caf::actor>(p.srv().writer());
    REQUIRE(old);
    caf::anon_send_exit(old, caf::exit_reason::kill);
    if (i < 2)
      REQUIRE(test::wait_until(
          [&] {
            auto now = caf::actor_cast<caf::actor>(p.srv().writer());
            return now && now != old;
          },
          10s, 5ms));
  }
  REQUIRE(test::wait_until([&] { return calls.load() == 1; }, 10s, 5ms));
  std::lock_guard<std::mutex> guard{mtx};
  CHECK(reason.find("comms_log_writer died 3 times within 60 s")
        != std::string::npos);
  CHECK(calls.load() == 1);
}

namespace {

/// Asks the server's ucid_calls and waits for the answer.
template <class... Ts>
ucid_reply ask_calls(test::pipeline& p, Ts&&... xs) {
  ucid_reply reply;
  reply.code = ucid_reply_code::unavailable;
  caf::scoped_actor self{p.sys()};
  self->request(p.srv().ucid_calls(), std::chrono::seconds{10},
                std::forward<Ts>(xs)...)
      .receive([&](ucid_reply& r) { reply = std::move(r); },
               [](caf::error&) {});
  return reply;
}

} // namespace

TEST_CASE("a killed ucid_calls is restarted and the next CloudAgent call "
          "still reaches the comms log",
          "[supervision]") {
  quiet_logs();
  test::ozonetel_server fake;
  auto b = sqlite_backend();
  auto reader = open_db(b.url);
  ami::replay_options options;
  options.capture_path
      = test::ami_capture("dev-01-inbound-answered-caller-hangup");
  auto pbx = test::start_replay(options);
  test::pipeline p{b.url, b.dir_file("spool"), *pbx, fresh_pbx_name(),
                   [&](app_config& cfg, server_options&) {
                     cfg.ozonetel = test::config_for(fake);
                   }};
  auto before = restarts_of("ucid_calls");
  auto old = caf::actor_cast<caf::actor>(p.srv().ucid_calls());
  REQUIRE(old);
  caf::anon_send_exit(old, caf::exit_reason::kill);
  REQUIRE(test::wait_until(
      [&] {
        auto now = caf::actor_cast<caf::actor>(p.srv().ucid_calls());
        return now && now != old;
      },
      10s, 5ms));
  old = nullptr;
  CHECK(restarts_of("ucid_calls") - before == 1);
  // A whole click-to-call through the new actor, wired to the matcher.
  auto dial = ask_calls(p, dial_atom_v,
                        ozonetel_dial_request{"+919845012345", {}});
  REQUIRE(dial.code == ucid_reply_code::ok);
  auto ucid = dial.ucid;
  for (auto ev : {browser_event::ringing, browser_event::answered}) {
    CHECK(ask_calls(p, browser_atom_v, browser_call_event{ucid, {}, ev, {}, 0})
              .code
          == ucid_reply_code::ok);
  }
  fake.end_call(ucid);
  ask_calls(p, browser_atom_v,
            browser_call_event{ucid, {}, browser_event::ended, {}, 0});
  ozonetel_dispose_request req;
  req.ucid = ucid;
  req.disposition = "INFO_PROVIDED";
  req.notes = "after a restart";
  auto disposed = ask_calls(p, dispose_atom_v, std::move(req));
  CHECK(disposed.code == ucid_reply_code::ok);
  CHECK(test::wait_until(
      [&] {
        auto found = reader->find_comms("ozonetel", ucid);
        return found && *found;
      },
      10s, 10ms));
}
