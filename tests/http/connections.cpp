// Connections as a resource: slow and idle clients cannot keep a legitimate
// one from being answered, the caps close the oldest idle connection first,
// deadlines and keep-alive limits hold. Real sockets on 127.0.0.1.

#include <atomic>
#include <thread>

#include "http/engine.hpp"
#include "tests/fixtures/http_fixture.hpp"
#include "tests/http/raw_client.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

/// `n` connections that each made one request and now sit idle.
std::vector<raw_connection> idle_connections(uint16_t port, size_t n) {
  std::vector<raw_connection> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    raw_connection conn{port};
    REQUIRE(conn.ok());
    REQUIRE(conn.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    out.push_back(std::move(conn));
  }
  for (auto& conn : out)
    REQUIRE(status_of(conn.receive(5s, "}")) == 200);
  return out;
}

/// Waits (bounded) until the server counts `n` idle connections.
bool wait_for_idle(const test_server& srv, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (srv.admin->stats().idle_connections == n)
      return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

} // namespace

TEST_CASE("200 slowloris and 2,000 idle keep-alive connections do not keep "
          "a legitimate client from answers within 1 s") {
  http::raise_open_file_limit();
  server_options opts;
  opts.limits.max_connections = 5000;
  opts.limits.max_connections_per_client = 5000;
  opts.limits.idle_timeout = 60s;
  test_server srv{opts};
  auto idle = idle_connections(srv.port, 2000);
  std::vector<raw_connection> slow;
  for (int i = 0; i < 200; ++i) {
    slow.emplace_back(srv.port);
    REQUIRE(slow.back().ok());
    REQUIRE(slow.back().send("GET /healthz HTTP/1.1\r\n"));
  }
  std::atomic<bool> done{false};
  // One header line every 2 s on each slow connection, for at most 8 s.
  std::thread dribbler{[&] {
    auto stop_at = std::chrono::steady_clock::now() + 8s;
    for (int line = 0; !done && std::chrono::steady_clock::now() < stop_at;
         ++line) {
      for (auto& conn : slow)
        conn.send("X-Slow-" + std::to_string(line) + ": still typing\r\n");
      for (int i = 0; i < 20 && !done; ++i)
        std::this_thread::sleep_for(100ms);
    }
  }};
  auto c = srv.client();
  c.set_connection_timeout(1);
  c.set_read_timeout(1);
  c.set_keep_alive(true);
  int answered = 0;
  constexpr int asked = 40;
  for (int i = 0; i < asked; ++i) {
    auto res = i % 2 == 0 ? c.Get("/healthz")
                          : c.Get("/api/crm/comms?limit=5", auth_read());
    if (res && res->status == 200)
      ++answered;
    std::this_thread::sleep_for(100ms);
  }
  done = true;
  dribbler.join();
  CHECK(answered == asked);
  // The slow and idle connections were held, not dropped to make room.
  CHECK(srv.admin->stats().open_connections >= 2000);
  CHECK(srv.admin->stats().evicted == 0);
}

TEST_CASE("a request that does not arrive within the deadline is 408") {
  server_options opts;
  opts.limits.request_deadline = 500ms;
  test_server srv{opts};
  raw_connection conn{srv.port};
  REQUIRE(conn.ok());
  REQUIRE(conn.send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  auto reply = conn.receive(5s, "}");
  CHECK(status_of(reply) == 408);
  CHECK(conn.closed_by_peer(3s));
  // A body that stalls counts too.
  raw_connection body{srv.port};
  REQUIRE(body.send("POST /api/crm/calls/log HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/json\r\nContent-Length: 10"
                    "\r\n\r\n{\""));
  CHECK(status_of(body.receive(5s, "}")) == 408);
}

TEST_CASE("idle keep-alive connections are closed after the idle timeout and "
          "after the keep-alive cap") {
  server_options opts;
  opts.limits.idle_timeout = 300ms;
  opts.limits.keep_alive_max = 3;
  test_server srv{opts};
  auto idle = idle_connections(srv.port, 1);
  CHECK(idle[0].closed_by_peer(3s));
  raw_connection conn{srv.port};
  std::string three;
  for (int i = 0; i < 3; ++i)
    three += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(conn.send(three));
  auto replies = conn.receive(5s);
  CHECK(replies.find("Connection: close") != std::string::npos);
  CHECK(replies.find("Connection: close")
        > replies.rfind("HTTP/1.1 200")); // only on the third answer
}

TEST_CASE("at the per-client cap the oldest idle connection is closed; with "
          "none idle a new one is refused") {
  server_options opts;
  opts.limits.max_connections_per_client = 4;
  opts.limits.idle_timeout = 60s;
  test_server srv{opts};
  auto idle = idle_connections(srv.port, 4);
  // An answer can reach the client a moment before the server files the
  // connection as idle.
  REQUIRE(wait_for_idle(srv, 4));
  // A fifth: the oldest idle one makes room.
  auto fifth = idle_connections(srv.port, 1);
  CHECK(idle[0].closed_by_peer(3s));
  CHECK_FALSE(idle[1].closed_by_peer(200ms));
  CHECK(srv.admin->stats().evicted == 1);
  // Four connections busy sending a request: nothing idle to close.
  std::vector<raw_connection> busy;
  for (int i = 0; i < 4; ++i) {
    busy.emplace_back(srv.port);
    busy.back().send("GET /healthz HTTP/1.1\r\n");
  }
  // Wait until the server has read from each (they are no longer idle).
  REQUIRE(wait_for_idle(srv, 0));
  CHECK(srv.admin->stats().evicted == 5);
  raw_connection refused{srv.port};
  auto reply = refused.receive(5s, "}");
  CHECK(status_of(reply) == 503);
  CHECK(reply.find("too_many_connections") != std::string::npos);
}
