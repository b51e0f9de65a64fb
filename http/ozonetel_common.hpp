#pragma once

// What the Ozonetel routes share (http/ozonetel_routes.cpp: calls,
// dispositions, the callback; http/ozonetel_agent_routes.cpp: agents, their
// state and tokens, CloudAgent's events, whoami): rendering ucid_calls'
// replies, the agent a request acts for, and the asking.

#include <string>

#include "core/error.hpp"
#include "core/handle_slot.hpp"
#include "http/json.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "messages/ucid_calls_actor.hpp"

namespace sb::ozonetel_http {

/// The sb::ec a failed ucid_reply stands for.
ec error_of(ucid_reply_code code);

bool reply_ok(ucid_reply_code code);

void write_text(http::json_writer& w, const char* key,
                const std::string& value);

/// null when empty.
void write_optional(http::json_writer& w, const char* key,
                    const std::string& value);

/// CloudAgent's answer as the API shows it (never its raw body).
void write_cloudagent(http::json_writer& w, const ozonetel_answer& a);

/// 200 with {code, message, ucid, state, disposition, cloudagent}, or the
/// error shape with the same fields.
void send_reply(http::response& res, const ucid_reply& r);

/// An ISO-8601 time, null for 0.
void write_time(http::json_writer& w, const char* key, unix_micros t);

/// The agent state's members (contracts: agent_id, cloudagent_state,
/// current_call, awaiting_disposition, pending_dial, ready).
void write_view(http::json_writer& w, const ozonetel_agent_view& v);

void send_view(http::response& res, const ozonetel_agent_view& v);

/// The agent the request acts for: an agent token's own agent (403 when the
/// request names another), else `named` (empty = the default agent).
bool acting_agent(const http::request& req, http::response& res,
                  const std::string& named, std::string& agent);

/// The routes' shared state: the context, ucid_calls and the timeout.
struct routes_base {
  const http_context& ctx;
  /// Read at each request: the root supervisor may have restarted it.
  shared_handle<ucid_calls_actor> calls;
  caf::timespan timeout;

  /// Sends 503 and returns false when there is nothing to talk to.
  bool available(http::response& res) const {
    if (!ctx.config.ozonetel.enabled()) {
      http::send_error(res, 503, "unavailable",
                       "Ozonetel is not configured: set ozonetel.account and "
                       "ozonetel.api_key (SWITCHBOARD_OZONETEL_ACCOUNT, "
                       "SWITCHBOARD_OZONETEL_API_KEY)");
      return false;
    }
    if (!calls->get()) {
      http::send_error(res, 503, "unavailable",
                       "the Ozonetel call tracker is not running");
      return false;
    }
    return true;
  }

  template <class R, class... Ts>
  caf::expected<R> ask(Ts&&... xs) const {
    return http_ask<R>(ctx.system, calls->get(), timeout,
                       std::forward<Ts>(xs)...);
  }

  template <class... Ts>
  void forward(http::response& res, Ts&&... xs) const {
    auto reply = ask<ucid_reply>(std::forward<Ts>(xs)...);
    if (!reply) {
      http::send_failure(res, "the Ozonetel call tracker", reply.error());
      return;
    }
    send_reply(res, *reply);
  }
};

/// Agents (list, create, read, change, delete, token), login / logout /
/// force-ready, CloudAgent's event receivers and GET /api/whoami.
void mount_agent_routes(http::router& routes, const routes_base& base);

} // namespace sb::ozonetel_http
