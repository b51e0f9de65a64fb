#pragma once

// CloudAgent's answers, read defensively: `status` may be
// "success", "Success", true, "queued successfully", or "false" / "fail" /
// "Fail" / "fails" / "error"; the text may sit under `message`, `Message` or
// `details`, sometimes as a JSON string inside the string; some answers are
// plain text. All of that becomes one `result`, which also keeps the raw answer
// with every secret removed so that it can go into a log line.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/strings.hpp"
#include "messages/ozonetel.hpp"

namespace sb::ozonetel {

/// The CloudAgent REST calls switchboard makes.
enum class api {
  generate_token,
  agent_login,
  agent_logout,
  manual_dial,
  set_disposition,
  change_agent_state,
  /// Subscribe API: POST /events/subscribe (call and agent event URLs).
  subscribe,
};

/// CloudAgent's name of the call (used in metrics labels and log lines).
const char* to_string(api which) noexcept;

/// How one REST call ended: the enum that crosses into the actors (ok,
/// accepted, already_done, rejected, unauthorized -- 401/403 or a "Token
/// Expired" answer --, server_error -- 5xx --, network_error -- no HTTP answer
/// at all --, malformed -- an answer we cannot read). The client never sets
/// rate_limited or unavailable: those are the session's.
using outcome = ozonetel_outcome;

/// Worth retrying the same request later: the failure says nothing about the
/// request itself.
inline bool transient(outcome x) noexcept {
  return x == outcome::server_error || x == outcome::network_error
         || x == outcome::malformed;
}

/// Finished from the caller's point of view.
inline bool succeeded(outcome x) noexcept {
  return x == outcome::ok || x == outcome::accepted
         || x == outcome::already_done;
}

struct result {
  api which = api::generate_token;
  outcome what = outcome::malformed;
  /// 0 when no HTTP answer arrived.
  int http_status = 0;
  /// `status` as CloudAgent wrote it ("true" / "false" for JSON booleans).
  std::string status;
  /// The human text of the answer (message / Message / details), or the
  /// transport error for network failures.
  std::string message;
  /// The answer body with secrets removed, cut to a few KB: safe to log.
  std::string raw;
  /// AgentManualDial: the new call's UCID.
  std::string ucid;
  /// changeAgentState: the agent's state as CloudAgent says it
  /// (e.g. "READY", "PAUSED", "ACW", "BUSY").
  std::string agent_state;
  /// generateToken: the token. Secret: never log, never put in a message
  /// that leaves the session.
  std::string token;
  /// generateToken: the JWT `exp` claim (Unix seconds), 0 when absent.
  int64_t token_expires_at = 0;
  /// generateToken: `exp` - `iat` when the JWT has both, else 0. Unlike
  /// `exp`, immune to a skew between our clock and CloudAgent's.
  int64_t token_lifetime_seconds = 0;
  /// The request never reached CloudAgent (connection refused, DNS, TLS
  /// handshake): safe to retry even for calls that are not idempotent.
  bool connect_failed = false;

  bool ok() const noexcept {
    return succeeded(what);
  }
};

/// Reads an HTTP answer (status 0 = no answer) into a result. `secrets` are
/// masked wherever they occur in `raw`.
result interpret(api which, int http_status, std::string_view body,
                 const std::vector<std::string>& secrets = {});

/// `text` with secrets removed: in JSON, the values of secret-bearing keys
/// (apiKey / Apikey / api_key / token / password / authorization, any case)
/// become "***"; every occurrence of a string in `secrets` and anything that
/// looks like a JWT become "***" too. Cut to `max_bytes`.
std::string redact(std::string_view text,
                   const std::vector<std::string>& secrets = {},
                   size_t max_bytes = 4096);

/// True for JSON keys that carry secrets (apiKey / Apikey / api_key / token /
/// password / authorization / secret, any case, '_' and '-' ignored).
bool is_secret_key(std::string_view key);

/// The time claims of a JWT (Unix seconds), 0 when absent or unreadable.
struct jwt_times {
  int64_t issued_at = 0;
  int64_t expires_at = 0;
};

jwt_times jwt_claims(std::string_view token);

/// The `exp` claim of a JWT (Unix seconds), 0 when absent or unreadable.
int64_t jwt_expiry(std::string_view token);

} // namespace sb::ozonetel
