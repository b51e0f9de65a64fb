#pragma once

// The Ozonetel endpoints (docs/openapi.yaml, tag ozonetel), mounted on http_server's router so
// that auth, media types, body limits, JSON errors and request logging are the
// same as everywhere else:
//
//   POST /api/ozonetel/dial                 {phone_number, customer_id?} ->
//   {ucid} POST /api/ozonetel/calls/{ucid}/events  browser:
//   ringing/answered/ended/failed POST /api/ozonetel/dispose {ucid,
//   disposition, notes?, callback_time?} POST /api/ozonetel/callback
//   CloudAgent's form (field `data`);
//                                           bearer or
//                                           ?token=<ozonetel.callback_token>
//   GET  /api/ozonetel/agent-state          CloudAgent's state + our view
//   POST /api/ozonetel/agent-state          {state: Ready|Pause, pause_reason?}
//
// Wiring (app/):
//   admin.add_routes([&](sb::http::router& r, const sb::http_context& ctx) {
//     sb::mount_ozonetel_routes(r, ctx, ucid_calls_handle);
//   });
//   deps.live_calls.push_back(sb::live_calls_of(sys, "ozonetel",
//   ucid_calls_handle));
//
// With no account configured (or an invalid handle) every route answers 503
// saying which keys to set.

#include "core/handle_slot.hpp"
#include "http/router.hpp"
#include "messages/ucid_calls_actor.hpp"

namespace sb {

struct http_context;

void mount_ozonetel_routes(http::router& routes, const http_context& ctx,
                           ucid_calls_actor calls);

/// As above, asking whatever actor `calls` holds at each request.
void mount_ozonetel_routes(http::router& routes, const http_context& ctx,
                           shared_handle<ucid_calls_actor> calls);

} // namespace sb
