#pragma once

// The operations endpoints (docs/openapi.yaml, tag ops):
//   GET /healthz        none  the process answers (I/O thread, never blocks)
//   GET /readyz         none  up/down per component; details (host-side
//                             errors, states) only with a read token
//   GET /api/calls/active read every live-call source, merged by start
//   GET /openapi.yaml   none  this server's API description (compiled in)
// plus the per-request metrics (switchboard_http_requests_total by route
// template, method label and status; switchboard_http_request_seconds).

#include <functional>
#include <vector>

#include "adapters/cdr/status_board.hpp"
#include "core/handle_slot.hpp"
#include "http/router.hpp"
#include "messages/call_tracker_actor.hpp"
#include "messages/connection.hpp"
#include "messages/customer_matcher_actor.hpp"
#include "messages/webhooks.hpp"

namespace sb {

struct http_context;
struct live_call_source;

struct ops_sources {
  /// The AMI call tracker; when it holds one it is the live-call source
  /// "ami".
  shared_handle<call_tracker_actor> tracker;
  std::vector<live_call_source> live_calls;
  std::function<std::vector<connection_status>()> connections;
  std::function<caf::optional<ozonetel_health>(caf::timespan)> ozonetel;
  /// Webhook delivery (shown, never a reason for not ready: a dead
  /// receiver does not make switchboard unready).
  std::function<std::vector<webhook_status>()> webhooks;
  /// Attaches each live call's customer (none held: calls show none).
  shared_handle<customer_matcher_actor> matcher;
  std::function<std::vector<cdr::status>()> cdr_status;
};

void mount_ops_routes(http::router& r, const http_context& ctx,
                      ops_sources sources);

} // namespace sb
