// The Subscribe call to CloudAgent's events: a failed one (5xx, refused,
// no answer, an error body) is retried with exponential backoff and jitter
// until it succeeds, and /readyz's health says where it stands.

#include <catch2/catch.hpp>

#include "adapters/metrics/registry.hpp"
#include "tests/actors/stepped_calls.hpp"

using namespace sb;
using namespace sb::test;
using namespace std::chrono_literals;

namespace {

ozonetel_config subscribing_config() {
  auto cfg = scripted_config();
  cfg.subscribe_base = "http://127.0.0.1:9";
  cfg.public_url = "http://127.0.0.1:8080";
  cfg.callback_token = "cb-token";
  return cfg;
}

double gauge(const char* name) {
  return metrics::global().get_gauge(name, "").value();
}

} // namespace

TEST_CASE("subscribe, stepped: failures are retried with doubling, jittered "
          "delays up to the bound until one succeeds",
          "[ucid][deterministic][subscribe]") {
  ucid_calls_options opts;
  opts.subscribe_retry_initial = 1s;
  opts.subscribe_retry_max = 4s;
  auto script = std::make_shared<session_script>();
  script->subscribe_outcomes
      = {ozonetel_outcome::server_error, ozonetel_outcome::network_error,
         ozonetel_outcome::rejected,     ozonetel_outcome::malformed,
         ozonetel_outcome::server_error, ozonetel_outcome::unavailable};
  stepped_calls_env t{subscribing_config(), opts, script};
  REQUIRE(t.script->subscribes == 1);
  auto h = t.ask<ozonetel_health>(health_atom_v);
  CHECK(h.subscription == "retrying");
  CHECK(h.subscription_failures == 1);
  CHECK(h.subscription_attempts == 1);
  CHECK(h.subscription_error == "Service Unavailable");
  CHECK(h.subscription_retry_at > 0);
  CHECK(gauge("switchboard_ozonetel_subscribed") == 0);
  CHECK(gauge("switchboard_ozonetel_subscribe_failures") == 1);
  // Each delay d is drawn from [0.75 d, d]: 1 s, 2 s, 4 s, then 4 s (the
  // bound) for as long as it fails.
  std::vector<std::chrono::milliseconds> delays{1000ms, 2000ms, 4000ms,
                                                4000ms, 4000ms, 4000ms};
  auto now = t.env.clock();
  for (size_t i = 0; i < delays.size(); ++i) {
    INFO("retry " << i + 1);
    auto due = t.ask<ozonetel_health>(health_atom_v).subscription_retry_at;
    auto wait = std::chrono::microseconds{due - now()};
    CHECK(wait >= delays[i] * 3 / 4);
    CHECK(wait <= delays[i]);
    t.env.advance(wait - 1ms);
    CHECK(t.script->subscribes == static_cast<int>(i) + 1);
    t.env.advance(1ms);
    CHECK(t.script->subscribes == static_cast<int>(i) + 2);
  }
  h = t.ask<ozonetel_health>(health_atom_v);
  CHECK(h.subscription == "subscribed");
  CHECK(h.subscription_failures == 0);
  CHECK(h.subscription_attempts == 7);
  CHECK(h.subscription_error.empty());
  CHECK(h.subscription_retry_at == 0);
  CHECK(gauge("switchboard_ozonetel_subscribed") == 1);
  CHECK(gauge("switchboard_ozonetel_subscribe_failures") == 0);
  // Subscribed: nothing more goes out.
  t.env.advance(60s);
  CHECK(t.script->subscribes == 7);
}

TEST_CASE("subscribe, stepped: a respawned session subscribes again; the "
          "retry it replaces does nothing",
          "[ucid][deterministic][subscribe]") {
  ucid_calls_options opts;
  opts.subscribe_retry_initial = 10s;
  opts.restart_initial = 1s;
  auto script = std::make_shared<session_script>();
  script->subscribe_outcomes = {ozonetel_outcome::server_error};
  stepped_calls_env t{subscribing_config(), opts, script};
  REQUIRE(t.script->subscribes == 1);
  caf::anon_send_exit(t.sessions.at(0), caf::exit_reason::kill);
  t.env.run();
  t.env.advance(1s);
  REQUIRE(t.script->spawned == 2);
  CHECK(t.script->subscribes == 2);
  CHECK(t.ask<ozonetel_health>(health_atom_v).subscription == "subscribed");
  // The first failure's retry (due at 7.5..10 s) was replaced.
  t.env.advance(10s);
  CHECK(t.script->subscribes == 2);
}

TEST_CASE("subscribe, stepped: without the callback token it is not made",
          "[ucid][deterministic][subscribe]") {
  auto cfg = subscribing_config();
  cfg.callback_token.clear();
  stepped_calls_env t{cfg};
  CHECK(t.script->subscribes == 0);
  auto h = t.ask<ozonetel_health>(health_atom_v);
  CHECK(h.subscription == "failed");
  CHECK(h.subscription_error.find("callback_token") != std::string::npos);
  t.env.advance(10min);
  CHECK(t.script->subscribes == 0);
}
