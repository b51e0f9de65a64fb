// The AMI client adapter against the replay server over real TCP on
// 127.0.0.1, no actors involved.

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "adapters/ami/client.hpp"
#include "core/strings.hpp"
#include "messages/ami_interest.hpp"
#include "tests/fixtures/ami_server.hpp"

using namespace std::chrono_literals;
using sb::ami::replay_options;

namespace {

/// Collects what a client reports from its I/O thread.
struct collector {
  std::mutex mtx;
  std::condition_variable changed;
  std::vector<std::string> frames;
  std::vector<size_t> batch_sizes;
  bool logged_in = false;
  size_t frames_before_login = 0;
  /// Events the reader dropped unread, by name.
  std::map<std::string, uint64_t> skipped;
  std::vector<std::string> failures;

  sb::ami::client_callbacks callbacks() {
    sb::ami::client_callbacks cb;
    cb.on_logged_in = [this] {
      std::lock_guard<std::mutex> guard{mtx};
      logged_in = true;
      frames_before_login = frames.size();
      changed.notify_all();
    };
    cb.on_frames = [this](sb::ami_frame_batch&& batch) {
      std::lock_guard<std::mutex> guard{mtx};
      CHECK(batch.pbx == "main");
      for (auto& [name, n] : batch.skipped)
        skipped[name] += n;
      batch_sizes.push_back(batch.frames.size());
      for (auto& f : batch.frames)
        // The answer to the re-sync after each login is not part of the
        // replayed capture.
        if (f.rfind("Event: CoreShowChannel", 0) != 0)
          frames.push_back(std::move(f));
      changed.notify_all();
    };
    cb.on_failed = [this](std::string reason) {
      std::lock_guard<std::mutex> guard{mtx};
      failures.push_back(std::move(reason));
      changed.notify_all();
    };
    return cb;
  }

  template <class Predicate>
  bool wait(Predicate ready, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock{mtx};
    return changed.wait_for(lock, timeout, [&] { return ready(*this); });
  }
};

} // namespace

TEST_CASE("by default the reader drops the events the tracker never reads, "
          "counting each, and hands over the rest in order",
          "[ami][client]") {
  replay_options options;
  options.capture_path = sb::test::ami_capture("dev-11-burst-50");
  auto server = sb::test::start_replay(options);
  auto pbx = sb::test::local_pbx(*server);
  pbx.drop_unread_events = true;
  collector got;
  sb::ami::client client{pbx, got.callbacks()};
  client.start();
  std::vector<std::string> wanted;
  std::map<std::string, uint64_t> ignored;
  for (auto& frame : server->capture_frames()) {
    auto eol = frame.find("\r\n");
    auto name = std::string{sb::trim(frame.substr(6, eol - 6))};
    if (sb::tracker_ignores(name))
      ++ignored[name];
    else
      wanted.push_back(frame);
  }
  REQUIRE(wanted.size() < server->capture_events() / 2);
  auto skipped_total = [](const collector& c) {
    uint64_t n = 0;
    for (auto& kv : c.skipped)
      n += kv.second;
    return n;
  };
  REQUIRE(got.wait([&](collector& c) {
    return c.frames.size() + skipped_total(c) >= server->capture_events();
  }));
  std::lock_guard<std::mutex> guard{got.mtx};
  CHECK(got.frames == wanted);
  CHECK(got.skipped == ignored);
  CHECK(got.failures.empty());
}

TEST_CASE("client logs in and hands over every event in order",
          "[ami][client]") {
  replay_options options;
  options.capture_path
      = sb::test::ami_capture("dev-06-inbound-ringgroup-second-answers");
  auto server = sb::test::start_replay(options);
  collector got;
  sb::ami::client client{sb::test::local_pbx(*server), got.callbacks()};
  client.start();
  auto expected = server->capture_events();
  REQUIRE(expected == 142);
  REQUIRE(got.wait([&](collector& c) { return c.frames.size() >= expected; }));
  std::lock_guard<std::mutex> guard{got.mtx};
  CHECK(got.logged_in);
  CHECK(got.frames_before_login == 0);
  CHECK(got.frames == server->capture_frames());
  CHECK(got.failures.empty());
  auto actions = server->actions();
  REQUIRE(!actions.empty());
  auto& login = actions.front();
  CHECK(login.name == "Login");
  CHECK(login.get("Username") == "admin");
  CHECK(login.get("Secret") == "secret");
  CHECK(login.get("Events") == "call,cdr");
  CHECK(login.get("ActionID") == "sb-main-1");
}

TEST_CASE("client reports a wrong secret naming the PBX", "[ami][client]") {
  replay_options options;
  options.capture_path
      = sb::test::ami_capture("dev-01-inbound-answered-caller-hangup");
  options.secret = "the-right-one";
  auto server = sb::test::start_replay(options);
  collector got;
  sb::ami::client client{sb::test::local_pbx(*server), got.callbacks()};
  client.start();
  REQUIRE(got.wait([](collector& c) { return !c.failures.empty(); }));
  client.stop();
  std::lock_guard<std::mutex> guard{got.mtx};
  CHECK(got.failures
        == std::vector<std::string>{
            "pbx main: authentication failed: Authentication failed"});
  CHECK_FALSE(got.logged_in);
  CHECK(got.frames.empty());
  CHECK(server->events_sent() == 0);
}

TEST_CASE("client logs in with an MD5 challenge", "[ami][client]") {
  replay_options options;
  options.capture_path = sb::test::ami_capture("dev-04-inbound-busy");
  options.require_md5 = true;
  options.secret = "md5-only-secret";
  auto server = sb::test::start_replay(options);
  auto pbx = sb::test::local_pbx(*server);
  pbx.secret = "md5-only-secret";
  pbx.auth = sb::ami_auth::md5;
  collector got;
  sb::ami::client client{pbx, got.callbacks()};
  client.start();
  REQUIRE(got.wait([&](collector& c) {
    return c.frames.size() >= server->capture_events();
  }));
  auto actions = server->actions();
  REQUIRE(actions.size() >= 2);
  CHECK(actions[0].name == "Challenge");
  CHECK(actions[0].get("AuthType") == "MD5");
  CHECK(actions[1].name == "Login");
  CHECK(actions[1].get("AuthType") == "MD5");
  CHECK(actions[1].get("Key").size() == 32);
  // The secret itself never crosses the wire.
  CHECK_FALSE(actions[1].has("Secret"));
  std::lock_guard<std::mutex> guard{got.mtx};
  CHECK(got.frames == server->capture_frames());
}

TEST_CASE("a plain login to an MD5-only server fails cleanly",
          "[ami][client]") {
  replay_options options;
  options.capture_path = sb::test::ami_capture("dev-04-inbound-busy");
  options.require_md5 = true;
  auto server = sb::test::start_replay(options);
  collector got;
  sb::ami::client client{sb::test::local_pbx(*server), got.callbacks()};
  client.start();
  REQUIRE(got.wait([](collector& c) { return !c.failures.empty(); }));
  std::lock_guard<std::mutex> guard{got.mtx};
  CHECK(got.failures.front()
        == "pbx main: authentication failed: Authentication failed");
}

TEST_CASE("client pings and declares a silent PBX dead", "[ami][client]") {
  replay_options options;
  options.capture_path = sb::test::ami_capture("dev-04-inbound-busy");
  SECTION("answered Pings keep the session") {
    auto server = sb::test::start_replay(options);
    auto pbx = sb::test::local_pbx(*server);
    pbx.ping_interval_seconds = 0.02;
    pbx.ping_timeout_seconds = 2;
    collector got;
    sb::ami::client client{pbx, got.callbacks()};
    client.start();
    // A third Ping is only sent once the second was answered in time.
    REQUIRE(server->wait_for_actions("Ping", 3, 10s));
    client.stop();
    std::lock_guard<std::mutex> guard{got.mtx};
    CHECK(got.failures.empty());
    auto actions = server->actions();
    std::vector<std::string> ids;
    for (auto& a : actions)
      if (a.name == "Ping")
        ids.push_back(a.get("ActionID"));
    REQUIRE(ids.size() >= 3);
    CHECK(ids[0] != ids[1]);
    CHECK(ids[1] != ids[2]);
  }
  SECTION("a late Pong is a dead connection") {
    options.ping = replay_options::ping_reply::late;
    options.ping_delay = 3000ms;
    auto server = sb::test::start_replay(options);
    auto pbx = sb::test::local_pbx(*server);
    pbx.ping_interval_seconds = 0.05;
    pbx.ping_timeout_seconds = 0.2;
    collector got;
    sb::ami::client client{pbx, got.callbacks()};
    client.start();
    REQUIRE(got.wait([](collector& c) { return !c.failures.empty(); }));
    std::lock_guard<std::mutex> guard{got.mtx};
    CHECK(got.logged_in);
    CHECK(got.failures
          == std::vector<std::string>{"pbx main: no answer to Ping within 0.2 "
                                      "s, connection considered dead"});
  }
  SECTION("an unanswered Ping is a dead connection") {
    options.ping = replay_options::ping_reply::never;
    auto server = sb::test::start_replay(options);
    auto pbx = sb::test::local_pbx(*server);
    pbx.ping_interval_seconds = 0.05;
    pbx.ping_timeout_seconds = 0.1;
    collector got;
    sb::ami::client client{pbx, got.callbacks()};
    client.start();
    REQUIRE(got.wait([](collector& c) { return !c.failures.empty(); }));
    std::lock_guard<std::mutex> guard{got.mtx};
    CHECK(got.failures.front().find("pbx main: no answer to Ping") == 0);
  }
}

TEST_CASE("events in the same segment as the login response are kept",
          "[ami][client]") {
  replay_options options;
  options.capture_path
      = sb::test::ami_capture("dev-01-inbound-answered-caller-hangup");
  options.events_with_login_response = 40;
  // Slow the rest so that the first read can only hold the shared segment.
  options.events_per_second = 2000;
  auto server = sb::test::start_replay(options);
  collector got;
  sb::ami::client client{sb::test::local_pbx(*server), got.callbacks()};
  client.start();
  REQUIRE(got.wait([&](collector& c) {
    return c.frames.size() >= server->capture_events();
  }));
  std::lock_guard<std::mutex> guard{got.mtx};
  REQUIRE(!got.batch_sizes.empty());
  // The read that carried the login response carried the 40 events too.
  CHECK(got.batch_sizes.front() >= 40);
  CHECK(got.frames == server->capture_frames());
}

TEST_CASE("client reports the PBX closing mid-stream", "[ami][client]") {
  replay_options options;
  options.capture_path
      = sb::test::ami_capture("dev-02-inbound-answered-ext-hangup");
  options.close_after_events = 30;
  auto server = sb::test::start_replay(options);
  collector got;
  sb::ami::client client{sb::test::local_pbx(*server), got.callbacks()};
  client.start();
  REQUIRE(got.wait([](collector& c) { return !c.failures.empty(); }));
  std::lock_guard<std::mutex> guard{got.mtx};
  CHECK(got.failures.front() == "pbx main: connection closed by the PBX");
  REQUIRE(got.frames.size() == 30);
  CHECK(std::equal(got.frames.begin(), got.frames.end(),
                   server->capture_frames().begin()));
}

TEST_CASE("client refuses a peer that is not an AMI server", "[ami][client]") {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io,
                                   {asio::ip::make_address("127.0.0.1"), 0}};
  auto port = acceptor.local_endpoint().port();
  std::thread peer{[&] {
    auto socket = acceptor.accept();
    asio::write(socket, asio::buffer(std::string{"SSH-2.0-OpenSSH_9.2\r\n"}));
    char buf[256];
    boost::system::error_code ec;
    socket.read_some(asio::buffer(buf), ec); // until the client hangs up
  }};
  sb::pbx_config pbx;
  pbx.name = "main";
  pbx.host = "127.0.0.1";
  pbx.port = port;
  pbx.login_timeout_seconds = 5;
  collector got;
  sb::ami::client client{pbx, got.callbacks()};
  client.start();
  REQUIRE(got.wait([](collector& c) { return !c.failures.empty(); }));
  client.stop();
  peer.join();
  std::lock_guard<std::mutex> guard{got.mtx};
  CHECK(got.failures.front()
        == "pbx main: not an AMI server (banner \"SSH-2.0-OpenSSH_9.2\")");
}

TEST_CASE("client names the PBX when it cannot connect", "[ami][client]") {
  uint16_t port;
  {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor{io,
                                     {asio::ip::make_address("127.0.0.1"), 0}};
    port = acceptor.local_endpoint().port();
  } // closed again: nothing listens there now
  sb::pbx_config pbx;
  pbx.name = "branch-2";
  pbx.host = "127.0.0.1";
  pbx.port = port;
  collector got;
  sb::ami::client client{pbx, got.callbacks()};
  client.start();
  REQUIRE(got.wait([](collector& c) { return !c.failures.empty(); }));
  std::lock_guard<std::mutex> guard{got.mtx};
  CHECK(got.failures.front().find("pbx branch-2: cannot connect to 127.0.0.1:"
                                  + std::to_string(port))
        == 0);
}

TEST_CASE("client times out a server that never sends a banner",
          "[ami][client]") {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io,
                                   {asio::ip::make_address("127.0.0.1"), 0}};
  sb::pbx_config pbx;
  pbx.name = "main";
  pbx.host = "127.0.0.1";
  pbx.port = acceptor.local_endpoint().port();
  pbx.login_timeout_seconds = 0.2;
  collector got;
  // The kernel completes the handshake from the listen backlog; nobody
  // ever writes.
  sb::ami::client client{pbx, got.callbacks()};
  client.start();
  REQUIRE(got.wait([](collector& c) { return !c.failures.empty(); }));
  std::lock_guard<std::mutex> guard{got.mtx};
  CHECK(got.failures.front() == "pbx main: no AMI banner within 0.2 s");
}

TEST_CASE("replay server paces and loops the capture", "[ami][client]") {
  replay_options options;
  options.capture_path = sb::test::ami_capture("dev-04-inbound-busy");
  options.events_per_second = 1000;
  options.loop = true;
  auto server = sb::test::start_replay(options);
  auto per_replay = server->capture_events();
  REQUIRE(per_replay == 59);
  collector got;
  sb::ami::client client{sb::test::local_pbx(*server), got.callbacks()};
  auto t0 = std::chrono::steady_clock::now();
  client.start();
  REQUIRE(got.wait(
      [&](collector& c) { return c.frames.size() >= per_replay + 10; }));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  client.stop();
  // 69 events at 1000/s cannot arrive in much less than 68 ms.
  CHECK(elapsed >= 60ms);
  std::lock_guard<std::mutex> guard{got.mtx};
  // After the last event the capture starts again.
  auto& capture = server->capture_frames();
  CHECK(std::equal(capture.begin(), capture.end(), got.frames.begin()));
  CHECK(got.frames[per_replay] == capture[0]);
  // Paced: many small reads, not one big one.
  CHECK(got.batch_sizes.size() > 5);
}

TEST_CASE("at the flow bound the client stops reading, and reads on once the "
          "consumer released what it holds: nothing lost, order kept",
          "[ami][client][flow]") {
  replay_options options;
  options.capture_path = sb::test::ami_capture("dev-11-burst-50");
  auto server = sb::test::start_replay(options);
  auto pbx = sb::test::local_pbx(*server);
  pbx.drop_unread_events = false;
  auto gate = std::make_shared<sb::flow_gate>(64 * 1024);
  collector got;
  auto callbacks = got.callbacks();
  std::atomic<int> pauses{0};
  callbacks.on_paused = [&] {
    std::lock_guard<std::mutex> guard{got.mtx};
    ++pauses;
    got.changed.notify_all();
  };
  sb::ami::client client{pbx, std::move(callbacks), gate};
  client.start();
  // Nothing is released: the client must stop within one read of the bound.
  REQUIRE(got.wait([&](collector&) { return pauses.load() > 0; }));
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> guard{got.mtx};
    for (auto& f : got.frames)
      bytes += f.size();
    CHECK(got.frames.size() < server->capture_events());
  }
  CHECK(gate->queued() >= gate->max_units());
  CHECK(gate->queued() < gate->max_units() + sb::ami::client::read_buffer_bytes);
  CHECK(bytes <= gate->queued());
  // The consumer catches up, batch by batch, until the capture is through.
  REQUIRE(got.wait(
      [&](collector& c) {
        gate->release(gate->queued());
        return c.frames.size() >= server->capture_events();
      },
      20s));
  std::lock_guard<std::mutex> guard{got.mtx};
  CHECK(got.frames == server->capture_frames());
  CHECK(got.failures.empty());
}

TEST_CASE("200 clients share the I/O pool: every one logs in and gets its "
          "stream, on a handful of threads",
          "[ami][client][pool]") {
  replay_options options;
  options.capture_path
      = sb::test::ami_capture("dev-01-inbound-answered-caller-hangup");
  std::vector<std::unique_ptr<sb::ami::replay_server>> servers;
  std::vector<std::unique_ptr<collector>> got;
  std::vector<std::unique_ptr<sb::ami::client>> clients;
  for (int i = 0; i < 200; ++i) {
    servers.push_back(sb::test::start_replay(options));
    got.push_back(std::make_unique<collector>());
    clients.push_back(std::make_unique<sb::ami::client>(
        sb::test::local_pbx(*servers.back()), got.back()->callbacks()));
    clients.back()->start();
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    INFO("client " << i);
    auto expected = servers[i]->capture_events();
    REQUIRE(got[i]->wait(
        [&](collector& c) { return c.frames.size() >= expected; }));
    std::lock_guard<std::mutex> guard{got[i]->mtx};
    CHECK(got[i]->frames == servers[i]->capture_frames());
  }
  auto threads = sb::ami::io_pool::shared().threads();
  CHECK(threads >= 2);
  CHECK(threads <= 8);
  for (auto& c : clients)
    c->stop();
}
