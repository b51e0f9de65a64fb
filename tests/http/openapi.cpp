// docs/openapi.yaml describes every route the server serves.

#include <fstream>
#include <sstream>

#include "core/strings.hpp"
#include "http/openapi.hpp"
#include "tests/fixtures/http_fixture.hpp"

using namespace sb;
using namespace sb::test;

namespace {

std::string openapi_text() {
  std::ifstream in{std::string{SB_SOURCE_DIR} + "/docs/openapi.yaml"};
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST_CASE("the openapi reader finds paths and methods") {
  auto ops = http::openapi_operations("openapi: 3.0.3\n"
                                      "paths:\n"
                                      "  /a:\n"
                                      "    get:\n"
                                      "      summary: x\n"
                                      "    post:\n"
                                      "      parameters:\n"
                                      "        - name: get\n"
                                      "  '/b/{id}':\n"
                                      "    parameters: []\n"
                                      "    delete:\n"
                                      "components:\n"
                                      "  /c:\n"
                                      "    get:\n");
  CHECK(ops
        == http::operation_set{
            {"GET", "/a"}, {"POST", "/a"}, {"DELETE", "/b/{id}"}});
}

TEST_CASE("every route the server serves is in docs/openapi.yaml") {
  test_server srv;
  auto yaml = openapi_text();
  auto routes = srv.admin->routes();
  REQUIRE(routes.size() >= 8);
  auto missing = http::undocumented_routes(routes, yaml);
  INFO("undocumented: " << [&] {
    std::string s;
    for (auto& m : missing)
      s += m + "; ";
    return s;
  }());
  CHECK(missing.empty());
  // The routes other areas mount are documented too, so
  // the e2e test of the fully wired server can run the same check.
  auto ops = http::openapi_operations(yaml);
  for (auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/metrics"},
           {"POST", "/api/ozonetel/dial"},
           {"POST", "/api/ozonetel/calls/{ucid}/events"},
           {"POST", "/api/ozonetel/dispose"},
           {"POST", "/api/ozonetel/callback"},
           {"GET", "/api/ozonetel/agent-state"},
           {"POST", "/api/ozonetel/agent-state"}}) {
    INFO(method << " " << path);
    CHECK(ops.count({method, path}) == 1);
  }
  // Every public route is marked so in the document.
  for (auto& r : routes)
    if (r.needed == http::scope::none) {
      INFO(r.path);
      auto at = yaml.find("\n  " + r.path + ":\n");
      REQUIRE(at != std::string::npos);
      auto next = yaml.find("\n  /", at + 1);
      CHECK(yaml.substr(at, next - at).find("security: []")
            != std::string::npos);
    }
}

TEST_CASE("the server serves the spec it was built with at /openapi.yaml") {
  test_server srv;
  auto c = srv.client();
  auto res = c.Get("/openapi.yaml");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/yaml");
  CHECK(res->body == openapi_text());
}

TEST_CASE("each operation names the scope its route needs") {
  test_server srv;
  auto yaml = openapi_text();
  for (auto& r : srv.admin->routes()) {
    if (r.needed == http::scope::none)
      continue;
    INFO(r.method << " " << r.path);
    auto at = yaml.find("\n  " + r.path + ":\n");
    if (at == std::string::npos)
      at = yaml.find("\n  '" + r.path + "':\n");
    REQUIRE(at != std::string::npos);
    auto op = yaml.find("\n    " + sb::lower(r.method) + ":\n", at);
    REQUIRE(op != std::string::npos);
    // The operation's own scope, before the next operation starts.
    auto scope_at = yaml.find("x-required-scope: ", op);
    REQUIRE(scope_at != std::string::npos);
    auto value
        = yaml.substr(scope_at + 18, yaml.find('\n', scope_at) - scope_at - 18);
    CHECK(value == to_string(r.needed));
  }
}
