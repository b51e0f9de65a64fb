// Malformed input: 1,000 requests with broken JSON bodies, wrong types and
// random headers, plus raw garbage on the socket. The server must answer each
// with a JSON error, keep serving, and leave the database as it was.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

#include "tests/fixtures/http_fixture.hpp"

using namespace sb;
using namespace sb::test;

namespace {

struct body_maker {
  std::mt19937 rng;
  int64_t customer_id;

  size_t pick(size_t n) {
    return std::uniform_int_distribution<size_t>{0, n - 1}(rng);
  }

  std::string random_bytes(size_t n) {
    std::string s(n, '\0');
    for (auto& c : s)
      c = static_cast<char>(pick(256));
    return s;
  }

  std::string random_printable(size_t n) {
    std::string s(n, ' ');
    for (auto& c : s)
      c = static_cast<char>(0x21 + pick(0x5e));
    return s;
  }

  /// A body that must never be accepted by POST /api/crm/calls/log.
  std::string bad_log_body() {
    auto id = std::to_string(customer_id);
    std::string valid = R"({"customer_id":)" + id
                        + R"(,"direction":"inbound","duration_seconds":30})";
    switch (pick(16)) {
      case 0:
        return random_bytes(1 + pick(300));
      case 1:
        // Truncated valid JSON.
        return valid.substr(0, pick(valid.size()));
      case 2: {
        // A random byte flipped into structure.
        auto s = valid;
        s[pick(s.size())] = "{}[],:\"\\"[pick(8)];
        // Flipping may keep it valid (e.g. replacing a quote with a quote);
        // make sure it is not: append garbage.
        return s + "}";
      }
      case 3:
        return std::string(1 + pick(5000), '[');
      case 4:
        return std::string(1 + pick(3000), '{');
      case 5:
        return R"({"customer_id":)" + id
               + R"(,"direction":"inbound","duration_seconds":)"
               + std::to_string(-1 - static_cast<int64_t>(pick(100000))) + "}";
      case 6:
        return R"({"customer_id":)" + id + R"(,"direction":")"
               + random_printable(1 + pick(10)) + R"(","duration_seconds":3})";
      case 7:
        return R"({"customer_id":)" + id
               + R"(,"direction":"inbound","duration_seconds":1e400})";
      case 8:
        return R"({"customer_id":99999999999999999999999,"direction":"inbound","duration_seconds":3})";
      case 9:
        return "{\"customer_id\":" + id
               + ",\"direction\":\"inbound\",\"duration_seconds\":3,"
                 "\"notes\":\"\xff\xfe\xfd\"}";
      case 10:
        return R"({"customer_id":)" + id
               + R"(,"direction":"inbound","duration_seconds":3,"occurred_at":")"
               + random_printable(1 + pick(30)) + "\"}";
      case 11:
        return R"({"customer_id":)" + id
               + R"(,"direction":["inbound"],"duration_seconds":3})";
      case 12:
        return R"({"customer_id":true,"direction":"inbound","duration_seconds":3})";
      case 13:
        return "";
      case 14:
        return "\"" + random_printable(pick(100)) + "\"";
      default:
        return valid + random_printable(1 + pick(20));
    }
  }

  /// A body that must never be accepted by POST /api/crm/customers.
  std::string bad_customer_body() {
    switch (pick(6)) {
      case 0:
        return random_bytes(1 + pick(200));
      case 1:
        return R"({"name":"X","phone":")" + random_printable(pick(3)) + "\"}";
      case 2:
        return R"({"name":"","phone":"+442079460123"})";
      case 3:
        return R"({"name":{"first":"X"},"phone":"+442079460123"})";
      case 4:
        return R"({"name":"X","phone":"+442079460123")";
      default:
        return "[" + random_printable(pick(50)) + "]";
    }
  }

  httplib::Headers random_headers(bool with_auth) {
    httplib::Headers h;
    if (with_auth)
      h.emplace("Authorization", "Bearer " + write_token);
    auto n = pick(6);
    for (size_t i = 0; i < n; ++i) {
      std::string name = "X-" + random_printable(1 + pick(12));
      // Header names are tokens: no separators.
      for (auto& c : name)
        if (std::string{"()<>@,;:\\\"/[]?={} "}.find(c) != std::string::npos)
          c = 'x';
      h.emplace(name, random_printable(pick(200)));
    }
    switch (pick(8)) {
      case 0:
        h.emplace("Idempotency-Key", random_printable(1 + pick(50)));
        break;
      case 1:
        h.emplace("Accept", random_printable(pick(30)));
        break;
      case 2:
        h.emplace("Authorization", "Bearer " + random_printable(pick(40)));
        break;
      default:
        break;
    }
    return h;
  }

  std::string content_type() {
    switch (pick(10)) {
      case 0:
        return "text/plain";
      case 1:
        return "application/jsonx";
      case 2:
        return random_printable(1 + pick(20));
      case 3:
        return "application/json; charset=utf-8";
      default:
        return "application/json";
    }
  }
};

/// Sends raw bytes and returns what came back (bounded wait).
std::string raw_exchange(uint16_t port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  std::string reply;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

} // namespace

TEST_CASE("1,000 malformed requests: every one refused, the database "
          "unchanged, the server still answering") {
  test_server srv;
  auto c = srv.client();
  auto customer = add_customer(c, "Fuzz Target", "+442079460999");
  auto comms_before = srv.comms_rows();
  auto customers_before = srv.customer_rows();
  REQUIRE(customers_before == 1);

  body_maker make{std::mt19937{20261121}, customer};
  std::map<int, int> statuses;
  for (int i = 0; i < 1000; ++i) {
    bool to_log = make.pick(4) != 0;
    auto body = to_log ? make.bad_log_body() : make.bad_customer_body();
    auto headers = make.random_headers(make.pick(10) != 0);
    auto type = make.content_type();
    auto res = c.Post(to_log ? "/api/crm/calls/log" : "/api/crm/customers",
                      headers, body, type.c_str());
    REQUIRE(res);
    INFO("request " << i << " body " << body.substr(0, 200) << " -> "
                    << res->status << " " << res->body);
    ++statuses[res->status];
    // A refusal, with a JSON error body; never a success or a crash.
    CHECK(res->status >= 400);
    CHECK(res->status < 500);
    CHECK(error_code(res).size() > 0);
  }
  // Raw garbage straight on the socket.
  std::mt19937 rng{7};
  for (int i = 0; i < 20; ++i) {
    std::string junk;
    switch (i % 4) {
      case 0:
        junk = make.random_bytes(1 + make.pick(500)) + "\r\n\r\n";
        break;
      case 1:
        junk = "POST /api/crm/calls/log HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer "
               + write_token
               + "\r\nContent-Type: application/json\r\n"
                 "Content-Length: 100000\r\n\r\n{\"customer_id\":";
        break;
      case 2:
        junk = "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n";
        break;
      default:
        junk = "BREW /api/crm/comms HTTP/1.1\r\nHost: x\r\n\r\n";
    }
    auto reply = raw_exchange(srv.port, junk);
    INFO("raw " << i << " -> " << reply.substr(0, 200));
    if (!reply.empty())
      CHECK(reply.rfind("HTTP/1.1 4", 0) == 0);
  }
  for (auto& [status, n] : statuses)
    INFO(status << ": " << n);

  CHECK(srv.comms_rows() == comms_before);
  CHECK(srv.customer_rows() == customers_before);
  auto health = c.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  // And it still does real work.
  auto ok = c.Post("/api/crm/calls/log", auth_write(),
                   R"({"customer_id":)" + std::to_string(customer)
                       + R"(,"direction":"inbound","duration_seconds":5})",
                   "application/json");
  REQUIRE(ok);
  CHECK(ok->status == 201);
  CHECK(srv.comms_rows() == comms_before + 1);
}
