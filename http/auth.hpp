#pragma once

// Bearer-token authentication for the HTTP API (docs/openapi.yaml,
// securitySchemes).
//
// Two tokens come from configuration: `http.token` (read + write) and the
// optional `http.read_token` (read only). Tokens are compared in constant
// time so response timing does not tell an attacker how much of a guess was
// right.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/agent_tokens.hpp"
#include "core/api_tokens.hpp"

namespace sb::http {

/// What a route needs from the caller's token.
enum class scope {
  /// No token needed (/healthz, /readyz, /metrics).
  none,
  read,
  write,
};

const char* to_string(scope x) noexcept;

enum class auth_outcome {
  granted,
  /// No `Authorization: Bearer` header (401).
  missing,
  /// A token that matches none configured (401).
  invalid,
  /// A valid token without the needed scope, e.g. the read token on a write
  /// endpoint (403).
  forbidden,
  /// No token is configured at all: the API is disabled (503).
  disabled,
};

/// Equal length and content, in time that depends only on the lengths.
bool constant_time_equals(std::string_view a, std::string_view b) noexcept;

/// The token in an `Authorization: Bearer <token>` header value; empty when
/// the header is absent or uses another scheme.
std::string_view bearer_token(std::string_view authorization) noexcept;

/// Checks tokens against the configured pair. Copies share one pair, so a
/// reload (SIGHUP) that calls set() reaches every copy at once; a check
/// already running finishes with the pair it started with.
class authenticator {
public:
  authenticator();
  authenticator(std::string token, std::string read_token);

  /// Replaces both tokens (an empty one is not configured).
  void set(std::string token, std::string read_token);

  /// Checks the raw `Authorization` header value against `needed`.
  auth_outcome check(std::string_view authorization, scope needed) const;

  /// Checks a bare token (e.g. from another channel such as a callback URL).
  auth_outcome check_token(std::string_view token, scope needed) const;

  bool enabled() const;

  /// "write" or "read" for a configured token, empty otherwise (constant
  /// time against both).
  std::string role_of(std::string_view token) const;

  /// Agent tokens (their hashes) to accept on agent routes; null = none.
  void set_agent_tokens(agent_tokens_ptr tokens);

  /// The agent whose token `token` is, when it is a live agent token.
  std::optional<std::string> agent_of(std::string_view token) const;

private:
  std::shared_ptr<api_token_holder> tokens_; // secrets
  std::shared_ptr<agent_tokens_ptr> agents_;
};

} // namespace sb::http
