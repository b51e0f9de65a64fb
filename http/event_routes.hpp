#pragma once

// GET /api/events (docs/openapi.yaml, tag events): the event log as
// Server-Sent Events, filtered by `types=`, `extension=`, `agent=`,
// `customer_id=`, resumed from `Last-Event-ID` (or `since=`). The stream
// itself is the event_hub's (http/event_stream.hpp), started on the first
// subscription.

#include <functional>

#include "http/event_stream.hpp"
#include "http/router.hpp"

namespace sb {

struct http_context;

/// The hub, created on first use (tests and setups that never stream pay
/// nothing for it).
using event_hub_source = std::function<http::event_hub&()>;

void mount_event_routes(http::router& r, const http_context& ctx,
                        event_hub_source hub, size_t buffer_bytes);

} // namespace sb
