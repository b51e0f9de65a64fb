// The blocking CloudAgent client against the local stand-in: the documented
// request shapes, and what each failure turns into.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/ozonetel/client.hpp"
#include "tests/fixtures/ozonetel_server.hpp"

using namespace sb::ozonetel;
using sb::test::fault;
using sb::test::fault_kind;
using sb::test::ozonetel_server;

namespace {

settings settings_for(const ozonetel_server& fake) {
  settings s;
  auto& o = fake.opts();
  s.api_base = fake.base_url();
  s.account = o.account;
  s.api_key = o.api_key;
  s.agent_id = o.agent_id;
  s.agent_password = o.agent_password;
  s.campaign = o.campaign;
  s.did = o.did;
  s.timeout_seconds = 1;
  return s;
}

} // namespace

TEST_CASE("client: generateToken sends apiKey and userName") {
  ozonetel_server fake;
  client c{settings_for(fake)};
  auto r = c.generate_token();
  REQUIRE(r.what == outcome::ok);
  CHECK(r.token == fake.issued_tokens().at(0));
  CHECK(r.token_expires_at > 0);
  CHECK(r.raw.find(r.token) == std::string::npos);
  auto req = fake.requests("/ca_apis/CAToken/generateToken").at(0);
  CHECK(req.header("apiKey") == fake.opts().api_key);
  CHECK(req.json("userName") == fake.opts().account);

  auto wrong = settings_for(fake);
  wrong.api_key = "wrong-key-000";
  auto refused = client{wrong}.generate_token();
  CHECK(refused.what == outcome::rejected);
  CHECK(refused.message == "Invalid User Details");
  CHECK(fake.token_generations() == 1);
}

TEST_CASE("client: manual dial, disposition, agent state with the bearer token") {
  ozonetel_server fake;
  client c{settings_for(fake)};
  auto token = c.generate_token().token;

  auto dial = c.manual_dial(token, "+919845012345");
  REQUIRE(dial.what == outcome::ok);
  REQUIRE_FALSE(dial.ucid.empty());
  auto d = fake.requests("/ca_apis/AgentManualDial").at(0);
  CHECK(d.header("Authorization") == "Bearer " + token);
  CHECK(d.json("userName") == fake.opts().account);
  CHECK(d.json("agentID") == fake.opts().agent_id);
  CHECK(d.json("campaignName") == fake.opts().campaign);
  CHECK(d.json("customerNumber") == "+919845012345");
  CHECK(d.json("UCID") == "true");

  // Still up: CloudAgent queues the disposition.
  auto queued = c.set_disposition(token, {dial.ucid, "Sale", "notes", {}});
  CHECK(queued.what == outcome::accepted);
  auto again = c.set_disposition(token, {dial.ucid, "Sale", {}, {}});
  CHECK(again.what == outcome::already_done);
  auto s = fake.requests("/ca_apis/DispositionAPIV2").at(0);
  CHECK(s.json("action") == "Set");
  CHECK(s.json("autoRelease") == "true");
  CHECK(s.json("ucid") == dial.ucid);
  CHECK(s.json("did") == fake.opts().did);
  CHECK(s.json("comments") == "notes");

  fake.add_inbound_call("9200000000000001");
  fake.end_call("9200000000000001");
  auto saved = c.set_disposition(token, {"9200000000000001", "Sale", {}, {}});
  CHECK(saved.what == outcome::ok);
  CHECK(saved.message == "Disposition saved successfully");

  fake.set_agent_state("ACW");
  auto pause = c.change_agent_state(token, "Pause", "Lunch");
  CHECK(pause.what == outcome::rejected);
  CHECK(pause.message.find("ACW") != std::string::npos);
  auto ready = c.change_agent_state(token, "Ready", {});
  CHECK(ready.what == outcome::ok);
  CHECK(ready.agent_state == "READY");
}

TEST_CASE("client: agent login and logout use HTTP Basic and a form") {
  ozonetel_server fake;
  client c{settings_for(fake)};
  auto in = c.agent_login("9845000000");
  CHECK(in.what == outcome::ok);
  auto again = c.agent_login("9845000000");
  CHECK(again.what == outcome::rejected);
  CHECK(again.message == "Agent has already logged in");
  CHECK(c.agent_logout().what == outcome::ok);
  auto req = fake.requests("/CAServices/AgentAuthenticationV2/index.php").at(0);
  CHECK(req.header("Authorization").rfind("Basic ", 0) == 0);
  CHECK(req.form("action") == "login");
  CHECK(req.form("phoneNumber") == "9845000000");
  CHECK(req.form("apiKey") == fake.opts().api_key);
  // The raw answer never echoes a secret even if CloudAgent did.
  CHECK(in.raw.find(fake.opts().api_key) == std::string::npos);

  auto bad = settings_for(fake);
  bad.agent_password = "wrong-password";
  CHECK(client{bad}.agent_login("1").message == "Invalid Authentication");
}

TEST_CASE("client: faults become outcomes") {
  ozonetel_server fake;
  client c{settings_for(fake)};
  auto token = c.generate_token().token;
  const std::string path = "/ca_apis/changeAgentState";
  auto ready = [&] { return c.change_agent_state(token, "Ready", {}); };

  fake.push_fault(path, fault::http(503));
  auto r503 = ready();
  CHECK(r503.what == outcome::server_error);
  CHECK(r503.http_status == 503);

  fake.push_fault(path, fault::malformed());
  CHECK(ready().what == outcome::malformed);

  fake.push_fault(path, fault::drop());
  auto dropped = ready();
  CHECK(dropped.what == outcome::network_error);
  CHECK_FALSE(dropped.connect_failed);

  auto slow = fault::slow(std::chrono::milliseconds{1500});
  fake.push_fault(path, slow);
  auto timed_out = ready();
  CHECK(timed_out.what == outcome::network_error);

  fake.expire_tokens();
  auto expired = ready();
  CHECK(expired.what == outcome::unauthorized);
  CHECK(expired.http_status == 401);
  CHECK(expired.message == "Token Expired");
}

TEST_CASE("client: nobody listening is a connect failure") {
  // A port the kernel handed out and that nobody listens on any more.
  uint16_t closed_port = 0;
  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    closed_port = ntohs(addr.sin_port);
    ::close(fd);
  }
  settings s;
  s.api_base = "http://127.0.0.1:" + std::to_string(closed_port);
  s.api_key = "k-0000";
  s.timeout_seconds = 1;
  auto r = client{s}.generate_token();
  INFO(r.message);
  CHECK(r.what == outcome::network_error);
  CHECK(r.connect_failed);
  CHECK_FALSE(r.message.empty());
}

TEST_CASE("client: api_base may carry a path prefix") {
  ozonetel_server fake;
  auto s = settings_for(fake);
  s.api_base = fake.base_url() + "/proxy/";
  auto r = client{s}.generate_token();
  CHECK(r.http_status == 404);
  auto req = fake.requests().at(0);
  CHECK(req.path == "/proxy/ca_apis/CAToken/generateToken");
}
