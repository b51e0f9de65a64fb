// ozonetel_session: one token for everyone, renewed near expiry and once
// after a 401, never more than 10 per hour; 5xx and dropped connections
// retried with backoff, dials never sent twice.

#include <catch2/catch.hpp>

#include "tests/fixtures/ozonetel_support.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

struct session_env {
  actor_env env;
  ozonetel_session_actor session;
  caf::scoped_actor self{env.sys};

  session_env(const ozonetel_config& cfg, ozonetel_session_options opts) {
    session = env.sys.spawn(ozonetel_session, cfg, opts);
  }

  ~session_env() {
    self->send_exit(session, caf::exit_reason::user_shutdown);
  }

  template <class... Ts>
  ozonetel_answer ask(Ts&&... xs) {
    ozonetel_answer result;
    bool answered = false;
    self->request(session, 20s, std::forward<Ts>(xs)...)
        .receive(
            [&](ozonetel_answer& a) {
              result = std::move(a);
              answered = true;
            },
            [&](caf::error& err) { FAIL("session: " << to_string(err)); });
    REQUIRE(answered);
    return result;
  }

  ozonetel_answer ready() {
    return ask(agent_state_atom_v, std::string{"Ready"}, std::string{});
  }

  ozonetel_session_status status() {
    ozonetel_session_status result;
    self->request(session, 5s, status_atom_v)
        .receive([&](ozonetel_session_status& s) { result = s; },
                 [&](caf::error& err) { FAIL(to_string(err)); });
    return result;
  }
};

double token_counter() {
  return sb::metrics::global()
      .get_counter("switchboard_ozonetel_token_generations_total",
                   "CloudAgent API tokens requested (CloudAgent allows 10 per "
                   "hour)")
      .value();
}

} // namespace

TEST_CASE("session: 100 concurrent requests share one token") {
  ozonetel_server fake;
  session_env s{config_for(fake), fast_session_options()};
  // All sent before the first token exists: they queue behind one fetch.
  for (int i = 0; i < 100; ++i)
    s.self->send(s.session, agent_state_atom_v, std::string{"Ready"},
                 std::string{});
  size_t ok = 0;
  size_t received = 0;
  s.self->receive_for(received, size_t{100})(
      [&](ozonetel_answer& a) { ok += a.outcome == ozonetel_outcome::ok; },
      caf::after(20s) >> [&] { FAIL("timeout waiting for answers"); });
  CHECK(ok == 100);
  CHECK(fake.token_generations() == 1);
  CHECK(fake.count("/ca_apis/changeAgentState") == 100);
  auto tokens = fake.issued_tokens();
  REQUIRE(tokens.size() == 1);
  for (auto& r : fake.requests("/ca_apis/changeAgentState"))
    CHECK(r.header("Authorization") == "Bearer " + tokens.at(0));
  auto st = s.status();
  CHECK(st.generations_total == 1);
  CHECK(st.has_token);
  CHECK(st.in_flight == 0);
  CHECK(st.waiting_for_token == 0);
}

TEST_CASE("session: renews at expiry (JWT exp) and shortly before it") {
  ozonetel_server fake;
  test_clock clock;
  auto opts = fast_session_options();
  opts.clock = clock.fn();
  session_env s{config_for(fake), opts};
  REQUIRE(s.ready().outcome == ozonetel_outcome::ok);
  REQUIRE(fake.token_generations() == 1);

  // Ten minutes before expiry: nothing to do yet.
  clock.advance(50min);
  REQUIRE(s.ready().outcome == ozonetel_outcome::ok);
  CHECK(fake.token_generations() == 1);

  // Within the last five minutes: the request goes out with the current
  // token while the next one is fetched.
  clock.advance(7min);
  REQUIRE(s.ready().outcome == ozonetel_outcome::ok);
  REQUIRE(fake.wait_for("/ca_apis/CAToken/generateToken", 2, 5s));
  for (int i = 0; i < 1000 && s.status().fetching; ++i)
    std::this_thread::yield();
  REQUIRE_FALSE(s.status().fetching);
  auto tokens = fake.issued_tokens();
  auto sent = fake.requests("/ca_apis/changeAgentState");
  CHECK(sent.back().header("Authorization") == "Bearer " + tokens.at(0));
  REQUIRE(s.ready().outcome == ozonetel_outcome::ok);
  sent = fake.requests("/ca_apis/changeAgentState");
  tokens = fake.issued_tokens();
  CHECK(sent.back().header("Authorization") == "Bearer " + tokens.at(1));

  // Past the second token's expiry: the request waits for a new one.
  clock.advance(61min);
  REQUIRE(s.ready().outcome == ozonetel_outcome::ok);
  CHECK(fake.token_generations() == 3);
  tokens = fake.issued_tokens();
  sent = fake.requests("/ca_apis/changeAgentState");
  CHECK(sent.back().header("Authorization") == "Bearer " + tokens.at(2));
}

TEST_CASE("session: a token without exp lives 60 minutes") {
  ozonetel_server::options fo;
  fo.token_has_exp = false;
  ozonetel_server fake{fo};
  test_clock clock;
  auto opts = fast_session_options();
  opts.clock = clock.fn();
  session_env s{config_for(fake), opts};
  REQUIRE(s.ready().outcome == ozonetel_outcome::ok);
  clock.advance(54min);
  REQUIRE(s.ready().outcome == ozonetel_outcome::ok);
  CHECK(fake.token_generations() == 1);
  clock.advance(7min);
  REQUIRE(s.ready().outcome == ozonetel_outcome::ok);
  CHECK(fake.token_generations() == 2);
}

TEST_CASE("session: a 401 renews the token once and retries the request") {
  ozonetel_server fake;
  session_env s{config_for(fake), fast_session_options()};
  REQUIRE(s.ready().outcome == ozonetel_outcome::ok);
  fake.expire_tokens(); // CloudAgent drops the token early
  auto a = s.ready();
  CHECK(a.outcome == ozonetel_outcome::ok);
  CHECK(fake.token_generations() == 2);
  CHECK(fake.count("/ca_apis/changeAgentState") == 3);

  SECTION("the 200-with-Token-Expired answer counts too") {
    ozonetel_server::options fo;
    fo.expired_token_status = 200;
    ozonetel_server fake200{fo};
    session_env s200{config_for(fake200), fast_session_options()};
    REQUIRE(s200.ready().outcome == ozonetel_outcome::ok);
    fake200.expire_tokens();
    CHECK(s200.ready().outcome == ozonetel_outcome::ok);
    CHECK(fake200.token_generations() == 2);
  }

  SECTION("a second 401 for the same request is final") {
    auto unauthorized
        = fault::http(401, R"({"status":"false","message":"Invalid Token"})");
    fake.set_persistent_fault("/ca_apis/changeAgentState", unauthorized);
    auto before = fake.token_generations();
    auto refused = s.ready();
    CHECK(refused.outcome == ozonetel_outcome::unauthorized);
    CHECK(fake.token_generations() == before + 1);
  }
}

TEST_CASE("session: never more than 10 tokens per rolling hour") {
  ozonetel_server fake;
  test_clock clock;
  auto opts = fast_session_options();
  opts.clock = clock.fn();
  session_env s{config_for(fake), opts};
  auto counter_before = token_counter();
  // CloudAgent refuses every token: each request renews once, then fails.
  auto unauthorized
      = fault::http(401, R"({"status":"false","message":"Token Expired"})");
  fake.set_persistent_fault("/ca_apis/changeAgentState", unauthorized);
  std::map<std::string, int> outcomes;
  for (int i = 0; i < 30; ++i)
    ++outcomes[to_string(s.ready().outcome)];
  // A concurrent storm on top.
  for (int i = 0; i < 40; ++i)
    s.self->send(s.session, agent_state_atom_v, std::string{"Ready"},
                 std::string{});
  size_t received = 0;
  s.self->receive_for(received, size_t{40})(
      [&](ozonetel_answer& a) { ++outcomes[to_string(a.outcome)]; },
      caf::after(20s) >> [&] { FAIL("timeout"); });
  CHECK(fake.token_generations() == 10);
  CHECK(token_counter() - counter_before == 10);
  CHECK(outcomes["rate_limited"] > 0);
  CHECK(outcomes["ok"] == 0);
  auto st = s.status();
  CHECK(st.generations_last_hour == 10);

  // An hour later the window has room again.
  fake.clear_faults();
  clock.advance(61min);
  CHECK(s.ready().outcome == ozonetel_outcome::ok);
  CHECK(fake.token_generations() == 11);
}

TEST_CASE("session: 5xx, dropped and timed-out requests are retried") {
  ozonetel_server fake;
  session_env s{config_for(fake), fast_session_options()};
  const std::string path = "/ca_apis/changeAgentState";
  fake.push_fault(path, fault::http(503), 2);
  auto a = s.ready();
  CHECK(a.outcome == ozonetel_outcome::ok);
  CHECK(a.attempts == 3);

  fake.push_fault(path, fault::drop());
  auto b = s.ready();
  CHECK(b.outcome == ozonetel_outcome::ok);
  CHECK(b.attempts == 2);

  fake.push_fault(path, fault::http(500), 5);
  auto c = s.ready();
  CHECK(c.outcome == ozonetel_outcome::server_error);
  CHECK(c.attempts == 3);
  fake.clear_faults();

  auto slow = fault::slow(2500ms); // beyond request_timeout_seconds (2 s)
  fake.push_fault(path, slow);
  auto d = s.ready();
  CHECK(d.outcome == ozonetel_outcome::ok);
  CHECK(d.attempts == 2);
}

TEST_CASE("session: a dial is never sent twice") {
  ozonetel_server fake;
  session_env s{config_for(fake), fast_session_options()};
  fake.push_fault("/ca_apis/AgentManualDial", fault::http(502));
  auto a = s.ask(dial_atom_v, std::string{"+919845012345"});
  CHECK(a.outcome == ozonetel_outcome::server_error);
  CHECK(fake.count("/ca_apis/AgentManualDial") == 1);
  fake.push_fault("/ca_apis/AgentManualDial", fault::drop());
  auto b = s.ask(dial_atom_v, std::string{"+919845012345"});
  CHECK(b.outcome == ozonetel_outcome::network_error);
  CHECK(fake.count("/ca_apis/AgentManualDial") == 2);
  auto c = s.ask(dial_atom_v, std::string{"+919845012345"});
  CHECK(c.outcome == ozonetel_outcome::ok);
  CHECK_FALSE(c.ucid.empty());
}

TEST_CASE("session: without an account everything is unavailable") {
  ozonetel_server fake;
  auto cfg = config_for(fake);
  cfg.account.clear();
  session_env s{cfg, fast_session_options()};
  auto a = s.ready();
  CHECK(a.outcome == ozonetel_outcome::unavailable);
  CHECK(a.message.find("ozonetel.account") != std::string::npos);
  CHECK(fake.requests().empty());
}

TEST_CASE("session: a wrong api key fails clearly and spends one token try") {
  ozonetel_server fake;
  auto cfg = config_for(fake);
  cfg.api_key = "not-the-key-1234";
  session_env s{cfg, fast_session_options()};
  auto a = s.ready();
  CHECK(a.outcome == ozonetel_outcome::rejected);
  CHECK(a.message.find("ozonetel.api_key") != std::string::npos);
  CHECK(fake.count("/ca_apis/CAToken/generateToken") == 1);
  CHECK(fake.count("/ca_apis/changeAgentState") == 0);
}

TEST_CASE("session: a respawned session keeps counting towards the limit") {
  ozonetel_server fake;
  auto opts = fast_session_options();
  {
    session_env first{config_for(fake), opts};
    for (int i = 0; i < 10; ++i) {
      REQUIRE(first.ready().outcome == ozonetel_outcome::ok);
      fake.expire_tokens();
    }
    CHECK(fake.token_generations() == 10);
  }
  // Same account, same ledger: the new session finds the hour spent.
  session_env second{config_for(fake), opts};
  auto a = second.ready();
  CHECK(a.outcome == ozonetel_outcome::rate_limited);
  CHECK(a.message.find("10 tokens per hour") != std::string::npos);
  CHECK(fake.token_generations() == 10);
  CHECK(second.status().generations_last_hour == 10);
}
