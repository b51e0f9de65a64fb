#pragma once

// The CRM endpoints (docs/openapi.yaml, tag crm):
//   POST /api/crm/calls/log         write  manual call log -> 201 entry
//   GET  /api/crm/comms             read   comms log, paged; newest first,
//                                          or by updated_since for a sync
//   POST /api/crm/customers         write  add a customer -> 201 customer
//                                          (409 on a taken number / id)
//   GET  /api/crm/customers         read   paged, ?phone= ?external_id=
//   GET  /api/crm/customers/{id}    read
//   PATCH  /api/crm/customers/{id}  write  change -> 200 customer
//   DELETE /api/crm/customers/{id}  write  delete -> 204 (entries detached)
// Every customer change re-matches unmatched calls from its number and is
// reported to http_context::events.
// Reads go to the database through the read pool; writes through the
// comms_log_writer actor, which owns idempotency and outage handling.

#include "core/handle_slot.hpp"
#include "http/router.hpp"
#include "messages/comms_log_writer_actor.hpp"
#include "messages/customer_matcher_actor.hpp"

namespace sb {

struct http_context;

void mount_crm_routes(http::router& r, const http_context& ctx,
                      shared_handle<comms_log_writer_actor> writer,
                      shared_handle<customer_matcher_actor> matcher);

/// The customer endpoints (mounted by mount_crm_routes).
void mount_customer_routes(http::router& r, const http_context& ctx,
                           shared_handle<comms_log_writer_actor> writer,
                           shared_handle<customer_matcher_actor> matcher);

} // namespace sb
