#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <caf/typed_response_promise.hpp>

#include "adapters/metrics/registry.hpp"
#include "adapters/ozonetel/client.hpp"
#include "config/config.hpp"
#include "messages/ozonetel_session_actor.hpp"

namespace sb {

/// The token generations of one CloudAgent account in the last rolling
/// hour. Lives outside the session actor so that a respawned session keeps
/// counting where the dead one stopped: the 10-per-hour limit holds across
/// restarts.
class token_ledger {
public:
  using time_point = std::chrono::system_clock::time_point;

  /// Records a generation at `now` when fewer than `limit` happened in the
  /// hour before it; false (nothing recorded) otherwise.
  bool try_record(time_point now, int limit);

  /// Generations in the hour before `now`.
  size_t count(time_point now);

  /// When the oldest generation of the window leaves it (`now` when the
  /// window is empty).
  time_point next_room(time_point now);

  /// The process-wide ledger of `account`.
  static std::shared_ptr<token_ledger> for_account(const std::string& account);

private:
  void prune(time_point now);

  std::mutex mtx_;
  std::deque<time_point> generations_;
};

struct ozonetel_session_options {
  /// HTTP requests running at once (each on its own worker thread).
  size_t max_in_flight = 8;
  /// Attempts per request when CloudAgent answers 5xx or not at all.
  int max_attempts = 3;
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{8000};
  /// CloudAgent's limit; the session never generates more in a rolling hour.
  int max_tokens_per_hour = 10;
  /// Token lifetime when the JWT carries no `exp`.
  std::chrono::seconds token_lifetime{3600};
  /// Renew this long before expiry (at most a twelfth of the lifetime).
  std::chrono::seconds renew_margin{300};
  /// Where generations are counted; null = the process-wide ledger of the
  /// account (sessions of one account must share one).
  std::shared_ptr<token_ledger> ledger;
  /// Wall clock (tests move it forward to expire tokens and the hourly cap).
  std::function<std::chrono::system_clock::time_point()> clock
    = [] { return std::chrono::system_clock::now(); };
};

struct ozonetel_session_state {
  static inline const char* name = "ozonetel_session";
  sb::metrics::actor_metrics* metrics = &sb::metrics::global().actor(name);

  using time_point = std::chrono::system_clock::time_point;
  using call_fn
    = std::function<ozonetel::result(const ozonetel::client&, const std::string&)>;

  /// One request from a caller, alive until its promise is delivered.
  struct request {
    ozonetel::api which = ozonetel::api::generate_token;
    call_fn call;
    caf::typed_response_promise<ozonetel_answer> promise;
    /// Safe to send twice (a dial is not: it would ring the customer twice).
    bool idempotent = true;
    int attempts = 0;
    /// Already renewed the token once for this request after a 401.
    bool reauthorized = false;
    /// Which token the last attempt used (see token_serial).
    uint64_t token_serial = 0;
  };

  ozonetel_config cfg;
  ozonetel_session_options opts;
  std::shared_ptr<const ozonetel::client> client;

  std::string token; // secret
  time_point token_expires{};
  time_point token_renew_at{};
  /// Bumped for every new token, so that a 401 for an old token does not
  /// throw away a newer one.
  uint64_t token_serial = 0;
  bool fetching = false;
  int fetch_failures = 0;
  std::shared_ptr<token_ledger> ledger;
  /// Tokens this session asked for.
  int64_t generations_total = 0;

  std::map<uint64_t, request> requests;
  std::deque<uint64_t> waiting_for_token;
  std::deque<uint64_t> ready;
  size_t in_flight = 0;
  uint64_t next_id = 1;

  ozonetel_session_state() = default;
  ozonetel_session_state(const ozonetel_session_state&) = delete;
  ozonetel_session_state& operator=(const ozonetel_session_state&) = delete;
  /// Answers every request still open (the state dies with the actor).
  ~ozonetel_session_state();
};

/// Spawn with the account's configuration (cfg.enabled() should be true;
/// without an account every request answers "unavailable").
ozonetel_session_actor::behavior_type
ozonetel_session(ozonetel_session_actor::stateful_pointer<ozonetel_session_state> self,
                 ozonetel_config cfg, ozonetel_session_options opts = {});

} // namespace sb
