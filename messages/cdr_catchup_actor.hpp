#pragma once

#include <caf/typed_actor.hpp>

#include "messages/type_ids.hpp"

namespace sb {

/// Catches up, from one PBX's CDR database, on the calls of the gaps its
/// re-syncs found, and hands them (recovered = "cdr") to the customer
/// matcher like the tracker's calls.
using cdr_catchup_actor = caf::typed_actor<
  // A gap to read; gaps queue while the CDR database is away.
  caf::reacts_to<cdr_gap_atom, cdr_gap>,
  // Its own backoff timer.
  caf::reacts_to<retry_atom>,
  // The customer matcher was restarted: recovered calls go to this one.
  caf::reacts_to<rewire_atom, caf::actor>>;

} // namespace sb
