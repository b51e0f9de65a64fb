// The operator console as the server sends it: every file of console/
// compiled in, with its content type, a strict Content-Security-Policy, an
// ETag that revalidates to 304, and brotli / gzip when the client takes
// them. And GET /api/whoami, which the console asks first.

#include <filesystem>
#include <fstream>
#include <sstream>

#include "http/console.hpp"
#include "tests/fixtures/http_fixture.hpp"

using namespace sb;
using namespace sb::test;

namespace {

std::string source_file(const std::string& name) {
  std::ifstream in{std::string{SB_SOURCE_DIR} + "/console/" + name,
                   std::ios::binary};
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST_CASE("the console page is served at / with its policy and an ETag") {
  test_server srv;
  auto c = srv.client();
  c.set_decompress(false);
  auto res = c.Get("/");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(res->body == source_file("index.html"));
  CHECK(res->get_header_value("Content-Security-Policy") == http::console_csp);
  CHECK(res->get_header_value("Content-Security-Policy").find("'unsafe-inline'")
        == std::string::npos);
  CHECK(res->get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK(res->get_header_value("Cache-Control") == "no-cache");
  auto etag = res->get_header_value("ETag");
  REQUIRE(etag.size() > 2);

  SECTION("the ETag revalidates to a 304 without a body") {
    auto again = c.Get("/", {{"If-None-Match", etag}});
    REQUIRE(again);
    CHECK(again->status == 304);
    CHECK(again->body.empty());
    CHECK(again->get_header_value("ETag") == etag);
  }
  SECTION("another ETag gets the page") {
    auto other = c.Get("/", {{"If-None-Match", "\"0123456789abcdef\""}});
    REQUIRE(other);
    CHECK(other->status == 200);
    CHECK(other->body == source_file("index.html"));
  }
}

TEST_CASE("every console file is served with its content type") {
  test_server srv;
  auto c = srv.client();
  c.set_decompress(false);
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator{
           std::string{SB_SOURCE_DIR} + "/console"}) {
    auto name = entry.path().filename().string();
    INFO(name);
    ++files;
    auto res = c.Get("/console/" + name);
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == source_file(name));
    auto type = res->get_header_value("Content-Type");
    auto ext = entry.path().extension().string();
    if (ext == ".js")
      CHECK(type == "text/javascript; charset=utf-8");
    else if (ext == ".css")
      CHECK(type == "text/css; charset=utf-8");
    else if (ext == ".html")
      CHECK(type == "text/html; charset=utf-8");
    else if (ext == ".svg")
      CHECK(type == "image/svg+xml");
  }
  CHECK(files == http::console_assets().size());
  auto missing = c.Get("/console/nothing.js");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(error_code(missing) == "not_found");
}

TEST_CASE("console files go out brotli or gzip compressed when accepted") {
  test_server srv;
  auto c = srv.client();
  c.set_decompress(false);
  auto plain = c.Get("/console/entries.js");
  REQUIRE(plain);
  auto br = c.Get("/console/entries.js",
                  {{"Accept-Encoding", "gzip, deflate, br"}});
  REQUIRE(br);
  CHECK(br->get_header_value("Content-Encoding") == "br");
  CHECK(br->body == http::brotli_bytes(source_file("entries.js")));
  CHECK(br->body.size() < plain->body.size() / 2);
  CHECK(br->get_header_value("Vary") == "Accept-Encoding");
  CHECK(br->get_header_value("ETag") != plain->get_header_value("ETag"));
  auto gz = c.Get("/console/entries.js", {{"Accept-Encoding", "gzip"}});
  REQUIRE(gz);
  CHECK(gz->get_header_value("Content-Encoding") == "gzip");
  REQUIRE(gz->body.size() > 2);
  CHECK(static_cast<unsigned char>(gz->body[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(gz->body[1]) == 0x8b);
  // And a client that decompresses gets the file.
  auto d = srv.client();
  auto decoded = d.Get("/console/entries.js", {{"Accept-Encoding", "gzip"}});
  REQUIRE(decoded);
  CHECK(decoded->body == source_file("entries.js"));
  // The 304 of a compressed copy.
  auto again = c.Get("/console/entries.js",
                     {{"Accept-Encoding", "br"},
                      {"If-None-Match", br->get_header_value("ETag")}});
  REQUIRE(again);
  CHECK(again->status == 304);
}

TEST_CASE("Accept-Encoding is read with its q-values") {
  CHECK(http::accepts_encoding("gzip, br", "br"));
  CHECK(http::accepts_encoding("GZIP", "gzip"));
  CHECK(http::accepts_encoding("*", "br"));
  CHECK(http::accepts_encoding("br;q=0.5", "br"));
  CHECK_FALSE(http::accepts_encoding("br;q=0", "br"));
  CHECK_FALSE(http::accepts_encoding("gzip;q=0.000, br", "gzip"));
  CHECK_FALSE(http::accepts_encoding("identity", "gzip"));
  CHECK_FALSE(http::accepts_encoding("", "gzip"));
  CHECK_FALSE(http::accepts_encoding("brotli", "br"));
}

TEST_CASE("whoami names the token's role") {
  test_server srv;
  auto c = srv.client();
  auto w = c.Get("/api/whoami", auth_write());
  REQUIRE(w);
  CHECK(w->status == 200);
  CHECK(str(json_of(w), "role") == "write");
  auto r = c.Get("/api/whoami", auth_read());
  REQUIRE(r);
  CHECK(str(json_of(r), "role") == "read");
  auto none = c.Get("/api/whoami", auth("wrong-token"));
  REQUIRE(none);
  CHECK(none->status == 401);
}
