#pragma once

// What the two halves of the ucid_calls actor share: the calls half
// (actors/ucid_calls.cpp: dial, browser, dispose, callback, events, timers)
// and the agents half (actors/ucid_calls_agents.cpp: agents and tokens,
// login / logout / force-ready, durable state, subscription, health).

#include <functional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/ucid_calls.hpp"

namespace sb::ucid_calls_detail {

using calls_ptr = ucid_calls_actor::stateful_pointer<ucid_calls_state>;
using reply_promise = caf::typed_response_promise<ucid_reply>;

inline constexpr const char* log_name = "ucid_calls";

/// How long to wait for the session (a token fetch and retries included).
caf::timespan session_timeout(calls_ptr self);

/// An answer standing in for a session that is not there.
ozonetel_answer session_down(const char* api, std::string message);

/// Stores what changed, then logs, sends and arms what the book decided;
/// `rp` answers the dispositions among it.
void perform(calls_ptr self, call_effects& out,
             const caf::optional<reply_promise>& rp = caf::none);

/// Sends one disposition; `then` runs after the book took the answer.
void send_disposition_then(
    calls_ptr self, ozonetel_disposition d,
    std::function<void(const ozonetel_answer&)> then);

/// Stores the calls the book changed (kept for the next try when the
/// database is down).
void persist(calls_ptr self);

/// At start: the agents (default, configured, stored) and their tokens, the
/// stored calls and what they still need (timers, retries, defaults).
void load_durable(calls_ptr self);

/// Subscribes to CloudAgent's events when ozonetel.subscribe_base and
/// ozonetel.public_url are set.
void subscribe(calls_ptr self);

/// The session's answer to the Subscribe call: done, or retried with
/// backoff until it is.
void on_subscribed(calls_ptr self, const ozonetel_answer& answer);

/// The Subscribe call's retry delays (options, else the configuration).
backoff subscribe_backoff(const ozonetel_config& cfg,
                          const ucid_calls_options& opts);

/// A Subscribe retry came due (a stale generation does nothing).
void on_subscribe_timer(calls_ptr self, uint64_t generation);

/// Remembers a CloudAgent failure for /readyz.
void note_answer(calls_ptr self, const ozonetel_answer& answer);

caf::result<ucid_reply> handle_login(calls_ptr self, const std::string& agent,
                                     bool login);

caf::result<ucid_reply> handle_force_ready(calls_ptr self,
                                           const std::string& agent);

std::vector<ozonetel_agent> list_agents(calls_ptr self);

agent_change_reply change_agent(calls_ptr self,
                                const agent_change_request& req);

caf::result<ozonetel_health> handle_health(calls_ptr self);

} // namespace sb::ucid_calls_detail
