// The HTTP edge under attack, over real sockets on 127.0.0.1: limits that
// hold before anything is buffered and before authentication, connection
// caps, timeouts, and header values taken exactly as sent.

#include <thread>

#include "adapters/metrics/registry.hpp"
#include "http/engine.hpp"
#include "tests/fixtures/http_fixture.hpp"
#include "tests/http/raw_client.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

std::string log_request_head(const std::string& extra_headers) {
  return "POST /api/crm/calls/log HTTP/1.1\r\nHost: x\r\n"
         "Content-Type: application/json\r\n"
         + extra_headers + "\r\n";
}

/// Sends a chunked body of up to `total` bytes in 64 KiB chunks, without a
/// token, stopping as soon as the server answered or closed. Returns the
/// answer and how much was sent.
std::pair<std::string, size_t> chunked_upload(uint16_t port, size_t total) {
  raw_connection conn{port};
  REQUIRE(conn.ok());
  REQUIRE(conn.send(log_request_head("Transfer-Encoding: chunked\r\n")));
  const std::string chunk(64 * 1024, 'a');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  const std::string framed = size_line + chunk + "\r\n";
  size_t sent = 0;
  while (sent < total && !conn.readable(0ms)) {
    if (!conn.send(framed))
      break;
    sent += chunk.size();
  }
  if (sent >= total)
    conn.send("0\r\n\r\n");
  return {conn.receive(5s, "}"), sent};
}

} // namespace

TEST_CASE("chunked bodies without a token are refused with 413 at the body "
          "limit, whatever their size") {
  test_server srv;
  auto before = resident_bytes();
  for (size_t total : {size_t{2} << 20, size_t{512} << 20}) {
    INFO("chunked body of " << total << " bytes");
    auto [reply, sent] = chunked_upload(srv.port, total);
    CHECK(status_of(reply) == 413);
    CHECK(reply.find("payload_too_large") != std::string::npos);
    // The server stopped reading at its 1 MiB limit: what the client got
    // out is that plus what the kernel's socket buffers took.
    CHECK(sent < (size_t{64} << 20));
  }
  auto grown = resident_bytes() > before ? resident_bytes() - before : 0;
  INFO("RSS grew by " << grown << " bytes");
  CHECK(grown < (size_t{16} << 20));
  // Nothing was written, and the server still answers.
  CHECK(srv.comms_rows() == 0);
  auto c = srv.client();
  auto health = c.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
}

TEST_CASE("a Content-Length over the limit is 413 before the body is read") {
  test_server srv;
  raw_connection conn{srv.port};
  REQUIRE(conn.ok());
  REQUIRE(conn.send(log_request_head("Content-Length: 536870912\r\n")));
  auto reply = conn.receive(5s, "}");
  CHECK(status_of(reply) == 413);
}

TEST_CASE("100,000 header fields are 431 and cost nothing") {
  test_server srv;
  auto before = resident_bytes();
  raw_connection conn{srv.port};
  REQUIRE(conn.ok());
  REQUIRE(conn.send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  std::string batch;
  size_t sent = 0;
  for (int i = 0; i < 100000 && !conn.readable(0ms); ++i) {
    batch += "X-Filler-" + std::to_string(i) + ": " + std::string(32, 'v')
             + "\r\n";
    if (batch.size() > 32 * 1024) {
      if (!conn.send(batch))
        break;
      sent += batch.size();
      batch.clear();
    }
  }
  auto reply = conn.receive(5s, "}");
  INFO("sent " << sent << " bytes of header fields");
  CHECK(status_of(reply) == 431);
  CHECK(reply.find("header_fields_too_large") != std::string::npos);
  auto grown = resident_bytes() > before ? resident_bytes() - before : 0;
  CHECK(grown < (size_t{16} << 20));
  // Many small fields under the byte limit are counted too.
  raw_connection many{srv.port};
  std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 150; ++i)
    head += "X-" + std::to_string(i) + ": v\r\n";
  REQUIRE(many.send(head + "\r\n"));
  CHECK(status_of(many.receive(5s, "}")) == 431);
}

TEST_CASE("repeated Authorization or Content-Length is 400") {
  test_server srv;
  for (auto& extra : {std::string{"Authorization: Bearer "} + write_token
                          + "\r\nAuthorization: Bearer " + write_token
                          + "\r\nContent-Length: 2\r\n",
                      std::string{"Authorization: Bearer "} + write_token
                          + "\r\nContent-Length: 2\r\nContent-Length: 2\r\n"}) {
    raw_connection conn{srv.port};
    REQUIRE(conn.ok());
    REQUIRE(conn.send(log_request_head(extra) + "{}"));
    auto reply = conn.receive(5s, "}");
    INFO(reply);
    CHECK(status_of(reply) == 400);
  }
  CHECK(srv.comms_rows() == 0);
}

TEST_CASE("header values are compared as sent: a percent-encoded token does "
          "not authenticate") {
  test_server srv;
  auto c = srv.client();
  // write_token ends in '9'; %39 is its percent-encoding.
  auto encoded = write_token.substr(0, write_token.size() - 1) + "%39";
  auto res = c.Get("/api/crm/comms", auth(encoded));
  REQUIRE(res);
  CHECK(res->status == 401);
  auto ok = c.Get("/api/crm/comms", auth(write_token));
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("5,000 invented methods add one 'other' label, not 5,000 series") {
  test_server srv;
  // 50 connections of 100 pipelined requests (the keep-alive cap).
  for (int conn_no = 0; conn_no < 50; ++conn_no) {
    raw_connection conn{srv.port};
    REQUIRE(conn.ok());
    std::string batch;
    for (int i = 0; i < 100; ++i)
      batch += "M" + std::to_string(conn_no * 100 + i)
               + "X /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(conn.send(batch));
    auto replies = conn.receive(10s);
    size_t answers = 0;
    for (size_t at = 0;
         (at = replies.find("HTTP/1.1 405", at)) != std::string::npos; ++at)
      ++answers;
    CHECK(answers == 100);
  }
  auto text = metrics::global().render();
  size_t invented = 0;
  for (size_t at = 0; (at = text.find("method=\"", at)) != std::string::npos;) {
    at += 8;
    auto method = text.substr(at, text.find('"', at) - at);
    if (!method.empty() && method.front() == 'M' && method.back() == 'X')
      ++invented;
  }
  CHECK(invented == 0);
  // All 5,000 answers are one series.
  auto series = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = 0; (at = text.find(needle, at)) != std::string::npos; ++at)
      ++n;
    return n;
  };
  CHECK(series("switchboard_http_requests_total{") > 0);
  auto line_start = text.find("method=\"other\"");
  REQUIRE(line_start != std::string::npos);
  CHECK(series("method=\"other\",route=\"unmatched\",status=\"405\"}")
            + series("route=\"unmatched\",method=\"other\",status=\"405\"}")
        == 1);
}

TEST_CASE("a second server on the same port fails to start, naming the "
          "address") {
  test_server srv;
  http_deps deps{srv.sys, srv.cfg};
  deps.config.http.listen = "127.0.0.1:" + std::to_string(srv.port);
  sb::http_server second{std::move(deps)};
  auto bound = second.start();
  REQUIRE_FALSE(bound);
  CHECK(
      describe(bound.error())
          .find("address already in use: 127.0.0.1:" + std::to_string(srv.port))
      != std::string::npos);
  // The first one is unaffected.
  auto c = srv.client();
  auto health = c.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
}
