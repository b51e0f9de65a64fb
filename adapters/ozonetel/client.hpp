#pragma once

// A blocking HTTP client for the CloudAgent REST calls switchboard makes.
// One object is shared by many threads: every call opens
// its own connection, so calls never wait on each other. Knows nothing about
// actors or tokens' lifetimes: the session actor decides when to call what.

#include <string>
#include <vector>

#include "adapters/ozonetel/answer.hpp"

namespace sb::ozonetel {

struct settings {
  /// "https://in1-ccaas-api.ozonetel.com" (a path prefix is allowed).
  std::string api_base;
  std::string account;
  std::string api_key; // secret
  std::string agent_id;
  std::string agent_password; // secret
  std::string campaign;
  std::string did;
  /// Whole-request budget for reading and writing.
  double timeout_seconds = 10;
  /// Budget for establishing the connection (capped by timeout_seconds).
  double connect_timeout_seconds = 5;
};

/// DispositionAPIV2 parameters besides the account and agent.
struct disposition_request {
  std::string ucid;
  /// The campaign's disposition name (already mapped from ours).
  std::string disposition;
  /// Agent notes (optional).
  std::string comments;
  /// "YYYY-MM-DD HH:MM:SS" for a callback disposition (optional).
  std::string callback_time;
  /// The agent whose seat it releases; empty = the configured agent.
  std::string agent_id;
};

class client {
public:
  explicit client(settings cfg);

  /// POST /ca_apis/CAToken/generateToken (header apiKey, {"userName"}).
  result generate_token() const;

  /// POST /CAServices/AgentAuthenticationV2/index.php, HTTP Basic
  /// (agent id + password), form body, action "login".
  result agent_login(const std::string& phone_number) const;

  /// Same call, action "logout".
  result agent_logout() const;

  /// Login / logout of another agent than the configured one.
  result agent_login(const std::string& agent_id, const std::string& password,
                     const std::string& phone_number) const;
  result agent_logout(const std::string& agent_id,
                      const std::string& password) const;

  /// As manual_dial, from agent `agent_id`.
  result manual_dial_as(const std::string& token, const std::string& agent_id,
                        const std::string& customer_number) const;

  /// As change_agent_state, for agent `agent_id`.
  result change_agent_state_as(const std::string& token,
                               const std::string& agent_id,
                               const std::string& state,
                               const std::string& pause_reason) const;

  /// Subscribe API: POST <subscribe_base>/events/subscribe, headers api_key
  /// and username, body {callEventsURL, agentEventsURL}.
  result subscribe(const std::string& subscribe_base,
                   const std::string& call_events_url,
                   const std::string& agent_events_url) const;

  /// POST /ca_apis/AgentManualDial with UCID "true" so the answer carries the
  /// call's UCID.
  result manual_dial(const std::string& token,
                     const std::string& customer_number) const;

  /// POST /ca_apis/DispositionAPIV2, action "Set", autoRelease "true" (which
  /// is what ends after-call work).
  result set_disposition(const std::string& token,
                         const disposition_request& request) const;

  /// POST /ca_apis/changeAgentState ("Ready" | "Pause").
  result change_agent_state(const std::string& token, const std::string& state,
                            const std::string& pause_reason) const;

  const settings& config() const noexcept {
    return cfg_;
  }

  /// The strings that must never reach a log line (api key, password, plus
  /// `token` when given).
  std::vector<std::string> secrets(const std::string& token = {}) const;

private:
  struct target {
    std::string scheme_host_port;
    std::string path_prefix;
  };

  result post_json(api which, const std::string& path, const std::string& token,
                   const std::string& body, bool api_key_header) const;

  settings cfg_;
  target target_;
};

/// A JSON object from flat string pairs (values escaped).
std::string
json_object(const std::vector<std::pair<std::string, std::string>>& fields);

} // namespace sb::ozonetel
