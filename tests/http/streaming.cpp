// Streaming responses (the base of Server-Sent Events): a handler keeps the
// response open and pushes chunks from another thread; a client that does
// not read loses chunks beyond its buffer instead of stalling the pusher;
// either side can end the stream. A test-only route on the real server.

#include <mutex>
#include <thread>

#include "tests/fixtures/http_fixture.hpp"
#include "tests/http/raw_client.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

/// The streams the test route opened, handed over from the I/O thread.
struct stream_box {
  std::mutex mutex;
  std::vector<std::shared_ptr<http::stream>> streams;

  std::shared_ptr<http::stream> wait_for(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> guard{mutex};
        if (streams.size() >= n)
          return streams[n - 1];
      }
      std::this_thread::sleep_for(5ms);
    }
    return nullptr;
  }
};

struct streaming_server {
  test_server srv;
  stream_box box;
  std::unique_ptr<sb::http_server> admin;
  uint16_t port = 0;

  explicit streaming_server(size_t buffer_bytes) {
    http_deps deps{srv.sys, srv.cfg};
    admin = std::make_unique<sb::http_server>(std::move(deps));
    admin->add_routes([this, buffer_bytes](http::router& r,
                                           const http_context&) {
      r.get("/test/stream", http::scope::read,
            [this, buffer_bytes](const http::request&, http::response& res) {
              res.start_stream(
                  "text/event-stream",
                  [this](std::shared_ptr<http::stream> s) {
                    std::lock_guard<std::mutex> guard{box.mutex};
                    box.streams.push_back(std::move(s));
                  },
                  buffer_bytes);
            });
    });
    auto bound = admin->start();
    REQUIRE(bound);
    port = *bound;
  }
};

std::string stream_request() {
  return "GET /test/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
         + read_token + "\r\n\r\n";
}

} // namespace

TEST_CASE("a stream stays open and delivers chunks pushed from another "
          "thread until the server closes it") {
  streaming_server s{64 * 1024};
  raw_connection conn{s.port};
  REQUIRE(conn.send(stream_request()));
  auto head = conn.receive(5s, "\r\n\r\n");
  CHECK(status_of(head) == 200);
  CHECK(head.find("Transfer-Encoding: chunked") != std::string::npos);
  CHECK(head.find("Content-Type: text/event-stream") != std::string::npos);
  auto stream = s.box.wait_for(1);
  REQUIRE(stream);
  std::thread pusher{[&] {
    for (int i = 0; i < 5; ++i)
      CHECK(stream->push("data: event " + std::to_string(i) + "\n\n"));
  }};
  pusher.join();
  auto body = conn.receive(5s, "event 4\n\n\r\n");
  for (int i = 0; i < 5; ++i)
    CHECK(body.find("data: event " + std::to_string(i)) != std::string::npos);
  // Chunked framing: hex size, CRLF, data, CRLF.
  CHECK(body.rfind("f\r\ndata: event 0\n\n\r\n", 0) == 0);
  stream->close();
  CHECK_FALSE(stream->open());
  auto tail = conn.receive(5s, "0\r\n\r\n");
  CHECK(tail.find("0\r\n\r\n") != std::string::npos);
  CHECK(conn.closed_by_peer(3s));
  // Other requests were served meanwhile as usual.
  auto c = s.srv.client();
  auto health = c.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
}

TEST_CASE("a client that does not read loses chunks past its buffer; the "
          "pusher never blocks") {
  streaming_server s{16 * 1024};
  raw_connection conn{s.port};
  // A small receive buffer so the kernel cannot hide a slow reader.
  int small = 4096;
  ::setsockopt(conn.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  REQUIRE(conn.send(stream_request()));
  auto stream = s.box.wait_for(1);
  REQUIRE(stream);
  const std::string event = "data: " + std::string(1000, 'x') + "\n\n";
  auto t0 = std::chrono::steady_clock::now();
  size_t accepted = 0;
  for (int i = 0; i < 5000; ++i)
    if (stream->push(event))
      ++accepted;
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 2s);
  CHECK(stream->dropped() > 0);
  CHECK(accepted + stream->dropped() == 5000);
  CHECK(accepted < 5000);
}

TEST_CASE("when the client goes away the stream reports closed") {
  streaming_server s{64 * 1024};
  auto conn = std::make_unique<raw_connection>(s.port);
  REQUIRE(conn->send(stream_request()));
  auto stream = s.box.wait_for(1);
  REQUIRE(stream);
  CHECK(stream->open());
  conn.reset();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (stream->open() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  CHECK_FALSE(stream->open());
  CHECK_FALSE(stream->push("data: late\n\n"));
}

TEST_CASE("a stream outliving its server is closed, and safe to use") {
  std::shared_ptr<http::stream> stream;
  {
    streaming_server s{64 * 1024};
    raw_connection conn{s.port};
    REQUIRE(conn.send(stream_request()));
    stream = s.box.wait_for(1);
    REQUIRE(stream);
    s.admin->stop();
  }
  CHECK_FALSE(stream->push("data: after stop\n\n"));
  stream->close();
  CHECK_FALSE(stream->open());
}
