#pragma once

// Shared by the Ozonetel tests: an actor system with switchboard's types, the
// configuration pointing at the local CloudAgent stand-in, a matcher stand-in
// that records the completed calls it receives, and a movable clock.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include "actors/ozonetel_session.hpp"
#include "actors/ucid_calls.hpp"
#include "adapters/ozonetel/callback.hpp"
#include "config/config.hpp"
#include "messages/customer_matcher_actor.hpp"
#include "messages/type_ids.hpp"
#include "tests/fixtures/ozonetel_server.hpp"

namespace sb::test {

/// One actor system per test (CAF 0.17 wants the config to outlive it).
struct actor_env {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  actor_env() {
    cfg.add_message_types<caf::id_block::switchboard>();
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

inline ozonetel_config config_for(const ozonetel_server& fake) {
  ozonetel_config cfg;
  auto& o = fake.opts();
  cfg.api_base = fake.base_url();
  cfg.account = o.account;
  cfg.api_key = o.api_key;
  cfg.agent_id = o.agent_id;
  cfg.agent_password = o.agent_password;
  cfg.campaign = o.campaign;
  cfg.did = o.did;
  cfg.callback_token = "cb-token-77aa";
  cfg.request_timeout_seconds = 2;
  cfg.acw_timeout_seconds = 30;
  cfg.pending_outbound_seconds = 30;
  cfg.default_disposition = "General";
  cfg.disposition_map = {{"APPOINTMENT_BOOKED", "Appointment Booked"},
                         {"INFO_PROVIDED", "Information Given"},
                         {"NO_ANSWER", "No Answer"},
                         {"CALLBACK_REQUESTED", "Call Back"}};
  return cfg;
}

/// Short backoffs so that retry tests finish in milliseconds.
inline ozonetel_session_options fast_session_options() {
  ozonetel_session_options opts;
  // Each test is its own CloudAgent account as far as the limit goes.
  opts.ledger = std::make_shared<token_ledger>();
  opts.backoff_initial = std::chrono::milliseconds{20};
  opts.backoff_max = std::chrono::milliseconds{100};
  return opts;
}

/// A wall clock the test can move forward.
struct test_clock {
  std::shared_ptr<std::atomic<int64_t>> offset_seconds
    = std::make_shared<std::atomic<int64_t>>(0);

  std::function<std::chrono::system_clock::time_point()> fn() const {
    auto offset = offset_seconds;
    return [offset] {
      return std::chrono::system_clock::now()
             + std::chrono::seconds{offset->load()};
    };
  }

  void advance(std::chrono::seconds by) {
    *offset_seconds += by.count();
  }
};

/// What the matcher stand-in received.
struct call_sink {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<completed_call> calls;

  /// Waits until at least `n` calls arrived; false on timeout.
  bool wait_for(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, timeout, [&] { return calls.size() >= n; });
  }

  std::vector<completed_call> snapshot() {
    std::lock_guard<std::mutex> guard{mtx};
    return calls;
  }
};

inline customer_matcher_actor::behavior_type
sink_matcher(customer_matcher_actor::pointer, std::shared_ptr<call_sink> sink) {
  return {
    [sink](std::vector<completed_call>& batch) {
      std::lock_guard<std::mutex> guard{sink->mtx};
      for (auto& c : batch)
        sink->calls.push_back(std::move(c));
      sink->cv.notify_all();
    },
    [](customer_atom, const customer&) {},
    [](reload_atom) {},
  };
}

/// ucid_calls wired to a real session against the fake, and a sink matcher.
struct calls_env {
  actor_env env;
  std::shared_ptr<call_sink> sink = std::make_shared<call_sink>();
  customer_matcher_actor matcher;
  ucid_calls_actor calls;
  caf::scoped_actor self{*env.sys};

  calls_env(ozonetel_config cfg,
            ozonetel_session_options session_opts = fast_session_options(),
            ucid_calls_options opts = {}) {
    matcher = env.sys->spawn(sink_matcher, sink);
    auto factory = [cfg, session_opts](caf::actor_system& sys) {
      return sys.spawn(ozonetel_session, cfg, session_opts);
    };
    calls = env.sys->spawn(ucid_calls, cfg, matcher, factory, opts);
  }

  ~calls_env() {
    self->send_exit(calls, caf::exit_reason::user_shutdown);
    self->send_exit(matcher, caf::exit_reason::user_shutdown);
  }

  template <class R, class... Ts>
  R ask(Ts&&... xs) {
    R result{};
    bool answered = false;
    self->request(calls, std::chrono::seconds{15}, std::forward<Ts>(xs)...)
      .receive(
        [&](R& x) {
          result = std::move(x);
          answered = true;
        },
        [&](caf::error& err) { FAIL("ucid_calls: " << to_string(err)); });
    REQUIRE(answered);
    return result;
  }

  ucid_reply event(const std::string& ucid, const std::string& what,
                   const std::string& x_ucid = {},
                   const std::string& caller = {}) {
    browser_call_event ev;
    ev.ucid = ucid;
    ev.x_ucid = x_ucid;
    ev.event = what;
    ev.caller = caller;
    return ask<ucid_reply>(browser_atom_v, ev);
  }

  ucid_reply dispose(const std::string& ucid, const std::string& disposition,
                     const std::string& notes = {}) {
    return ask<ucid_reply>(dispose_atom_v,
                           ozonetel_dispose_request{ucid, disposition, notes, {}});
  }

  ucid_reply dial(const std::string& number) {
    return ask<ucid_reply>(dial_atom_v, ozonetel_dial_request{number, {}});
  }
};

/// The callback as the HTTP edge hands it on: CloudAgent's form parsed by
/// the adapter (Apikey removed) straight into the message.
inline ozonetel_call_details details_from_form(const std::string& form) {
  auto parsed = ozonetel::parse_callback_form(form);
  REQUIRE(parsed.ok);
  return parsed.details;
}

/// Captures everything written to stderr (where sb::log writes) while alive.
class stderr_capture {
public:
  stderr_capture() {
    std::fflush(stderr);
    char path[] = "/tmp/sb-ozonetel-log-XXXXXX";
    fd_ = mkstemp(path);
    path_ = path;
    saved_ = dup(2);
    dup2(fd_, 2);
  }

  /// Stops capturing and returns what was written.
  std::string finish() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      dup2(saved_, 2);
      close(saved_);
      saved_ = -1;
    }
    std::string out;
    lseek(fd_, 0, SEEK_SET);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd_, buf, sizeof(buf))) > 0)
      out.append(buf, static_cast<size_t>(n));
    return out;
  }

  ~stderr_capture() {
    finish();
    close(fd_);
    unlink(path_.c_str());
  }

private:
  int fd_ = -1;
  int saved_ = -1;
  std::string path_;
};

} // namespace sb::test
