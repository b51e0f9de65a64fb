#pragma once

#include <string>
#include <vector>

#include <caf/typed_actor.hpp>

#include "messages/type_ids.hpp"

namespace sb {

/// Owns the SQL session that writes the comms log. Inserts are idempotent on
/// (source, ext_message_id); the writer holds records while the database is
/// down and never loses one.
using comms_log_writer_actor = caf::typed_actor<
  // Matched calls to persist (batched into one transaction when many wait).
  caf::reacts_to<std::vector<matched_call>>,
  // A manual call log (source "manual"); a non-empty idempotency key makes a
  // retried request return the first entry. Replies with the stored entry.
  caf::replies_to<write_atom, comms_entry, std::string>::with<comms_entry>,
  // Adds a customer (phone_e164 already normalized); replies with its id set.
  caf::replies_to<customer_atom, customer>::with<customer>,
  // Adds a customer unless its number or external_id is taken (ec::conflict);
  // a non-empty idempotency key replays the first answer. Unmatched calls
  // from the number get the customer.
  caf::replies_to<customer_atom, customer, std::string>::with<customer_change>,
  // Changes a customer (ec::not_found, ec::conflict); re-matches.
  caf::replies_to<customer_atom, customer_patch>::with<customer_change>,
  // Deletes a customer by id; its comms entries stay, detached.
  caf::replies_to<delete_atom, int64_t>::with<customer_change>,
  // Internal: try pending records again after a database error.
  caf::reacts_to<retry_atom>,
  // Records accepted but not yet committed (memory + spool).
  caf::replies_to<status_atom>::with<int64_t>,
  // A stop: commit for at most this many milliseconds, spool the rest, and
  // say what was committed, spooled and (if the spool refused) lost.
  caf::replies_to<flush_atom, int64_t>::with<drain_report>,
  // Where call.logged / manual.logged events go (an event_log_actor).
  caf::reacts_to<events_atom, caf::actor>>;

} // namespace sb
