#pragma once

// Click-to-call on a PBX (docs/openapi.yaml, tag calls):
//   POST /api/calls/originate   write   {extension, phone_number, pbx?,
//                                        customer_id?} -> 202 {request_id,...}
// The request is registered with the customer matcher (so the call it
// places carries the request id and the customer), then sent as an AMI
// Originate on the PBX's connection; 202 once the PBX queued it, 502 when
// it refused (the AMI user lacks the `originate` write class, ...), 503
// when the PBX is not connected, 504 when it did not answer in time.

#include <functional>

#include <caf/expected.hpp>

#include "core/handle_slot.hpp"
#include "http/router.hpp"
#include "messages/customer_matcher_actor.hpp"
#include "messages/originate.hpp"

namespace sb {

struct http_context;

/// Sends the request to the AMI side (the supervisor) and waits up to the
/// given time for its answer. Called on an HTTP worker thread.
using originate_function = std::function<caf::expected<originate_reply>(
    const originate_request&, caf::timespan)>;

void mount_originate_routes(http::router& r, const http_context& ctx,
                            shared_handle<customer_matcher_actor> matcher,
                            originate_function originate);

} // namespace sb
