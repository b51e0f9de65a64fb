#pragma once

// ucid_calls with a scripted session on CAF's test coordinator and the
// scheduler's clock: the deadlines (pending flag, after-call work, retries,
// the sweep, respawns) are checked to the millisecond by moving time, with
// no sleeping.

#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "actors/ucid_calls.hpp"
#include "tests/fixtures/deterministic_actor_system.hpp"
#include "tests/fixtures/ozonetel_support.hpp"

namespace sb::test {

/// What the scripted session answers and what it was asked.
struct session_script {
  /// Outcomes for the next dispositions, in order; ok once they run out.
  std::vector<ozonetel_outcome> dispose_outcomes;
  std::vector<ozonetel_disposition> dispositions;
  /// Outcomes for the next Subscribe calls, in order; ok once they run out.
  std::vector<ozonetel_outcome> subscribe_outcomes;
  int subscribes = 0;
  int dials = 0;
  int spawned = 0;
};

inline ozonetel_session_actor::behavior_type
scripted_session(ozonetel_session_actor::pointer,
                 const std::shared_ptr<session_script>& script) {
  auto answer = [](ozonetel_outcome outcome, std::string message) {
    ozonetel_answer a;
    a.outcome = outcome;
    a.message = std::move(message);
    return a;
  };
  return {
      [script, answer](dial_atom, const std::string&) {
        auto a = answer(ozonetel_outcome::ok, "Call initiated");
        a.ucid = "91000000000000" + std::to_string(++script->dials);
        return a;
      },
      [script, answer](dial_atom, const std::string&, const std::string&) {
        auto a = answer(ozonetel_outcome::ok, "Call initiated");
        a.ucid = "91000000000000" + std::to_string(++script->dials);
        return a;
      },
      [answer](agent_state_atom, const std::string&, const std::string& state,
               const std::string&) {
        auto a = answer(ozonetel_outcome::ok, "State changed");
        a.agent_state = state == "Ready" ? "READY" : "PAUSED";
        return a;
      },
      [answer](login_atom, const ozonetel_agent&) {
        return answer(ozonetel_outcome::ok, "logged in");
      },
      [answer](logout_atom, const ozonetel_agent&) {
        return answer(ozonetel_outcome::ok, "logged out");
      },
      [script, answer](subscribe_atom, const std::string&,
                       const std::string&) {
        ++script->subscribes;
        auto outcome = ozonetel_outcome::ok;
        if (!script->subscribe_outcomes.empty()) {
          outcome = script->subscribe_outcomes.front();
          script->subscribe_outcomes.erase(script->subscribe_outcomes.begin());
        }
        auto a = answer(outcome, outcome == ozonetel_outcome::ok
                                     ? "Subscription added successfully"
                                     : "Service Unavailable");
        a.attempts = 1;
        return a;
      },
      [script, answer](dispose_atom, const ozonetel_disposition& d) {
        script->dispositions.push_back(d);
        auto outcome = ozonetel_outcome::ok;
        if (!script->dispose_outcomes.empty()) {
          outcome = script->dispose_outcomes.front();
          script->dispose_outcomes.erase(script->dispose_outcomes.begin());
        }
        return answer(outcome, outcome == ozonetel_outcome::ok
                                   ? "Disposition Set"
                                   : "Service Unavailable");
      },
      [answer](agent_state_atom, const std::string& state, const std::string&) {
        auto a = answer(ozonetel_outcome::ok, "State changed");
        a.agent_state = state == "Ready" ? "READY" : "PAUSED";
        return a;
      },
      [](status_atom) { return ozonetel_session_status{}; },
      [](ozonetel_attempt&) {},
      [](retry_atom, uint64_t) {},
      [](token_atom) {},
  };
}

inline ozonetel_config scripted_config() {
  ozonetel_config cfg;
  cfg.account = "acme";
  cfg.api_key = "key-not-used";
  cfg.agent_id = "agent007";
  cfg.campaign = "Inbound_918000000000";
  cfg.did = "918000000000";
  cfg.acw_timeout_seconds = 30;
  cfg.pending_outbound_seconds = 30;
  cfg.default_disposition = "General";
  cfg.disposition_map = {{"APPOINTMENT_BOOKED", "Appointment Booked"},
                         {"INFO_PROVIDED", "Information Given"},
                         {"NO_ANSWER", "No Answer"}};
  return cfg;
}

/// ucid_calls on the deterministic actor system with a scripted session.
struct stepped_calls_env {
  deterministic_actor_system env;
  std::shared_ptr<call_sink> sink = std::make_shared<call_sink>();
  std::shared_ptr<session_script> script = std::make_shared<session_script>();
  std::vector<ozonetel_session_actor> sessions;
  customer_matcher_actor matcher;
  ucid_calls_actor calls;

  explicit stepped_calls_env(
      ozonetel_config cfg = scripted_config(), ucid_calls_options opts = {},
      std::shared_ptr<session_script> scripted = nullptr) {
    if (scripted)
      script = std::move(scripted);
    matcher = env.sys.spawn(sink_matcher, sink);
    auto factory = [this](caf::actor_system& sys) {
      ++script->spawned;
      sessions.push_back(sys.spawn(scripted_session, script));
      return sessions.back();
    };
    calls = env.sys.spawn(ucid_calls_with_clock, cfg, matcher, factory, opts,
                          env.clock());
    env.run();
  }

  ~stepped_calls_env() {
    caf::anon_send_exit(calls, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(matcher, caf::exit_reason::user_shutdown);
    env.run();
  }

  stepped_calls_env(const stepped_calls_env&) = delete;
  stepped_calls_env& operator=(const stepped_calls_env&) = delete;

  /// Asks ucid_calls and runs everything that follows.
  template <class R, class... Ts>
  R ask(Ts... xs) {
    R result{};
    bool answered = false;
    auto handle = calls;
    env.sys.spawn([&, handle](caf::event_based_actor* self) {
      self->request(handle, caf::infinite, xs...).then([&](R& x) {
        result = std::move(x);
        answered = true;
      });
    });
    env.run();
    REQUIRE(answered);
    return result;
  }

  ucid_reply dial() {
    return ask<ucid_reply>(dial_atom_v,
                           ozonetel_dial_request{"+919845012345", {}});
  }

  ucid_reply event(const std::string& ucid, browser_event what,
                   const std::string& x_ucid = {}) {
    return ask<ucid_reply>(browser_atom_v,
                           browser_call_event{ucid, x_ucid, what, {}, 0});
  }

  ucid_reply dispose(const std::string& ucid, const std::string& disposition) {
    ozonetel_dispose_request req;
    req.ucid = ucid;
    req.disposition = disposition;
    return ask<ucid_reply>(dispose_atom_v, std::move(req));
  }

  ozonetel_agent_view view() {
    return ask<ozonetel_agent_view>(agent_state_atom_v);
  }

  size_t entries() {
    return sink->snapshot().size();
  }
};

} // namespace sb::test
