#pragma once

#include <cstdint>
#include <vector>

#include <caf/typed_actor.hpp>

#include "messages/type_ids.hpp"

namespace sb {

/// Appends events to the durable event log (the `events` table) without
/// ever making the sender wait: appends are queued (bounded) and written in
/// batches by a thread of its own.
using event_log_actor = caf::typed_actor<
  // One event.
  caf::reacts_to<append_atom, event_record>,
  // Several, in order.
  caf::reacts_to<append_atom, std::vector<event_record>>,
  // A stop: write what is queued within this budget (milliseconds); answers
  // how many events are still unwritten (lost at exit).
  caf::replies_to<flush_atom, int64_t>::with<int64_t>>;

} // namespace sb
