#pragma once

#include <vector>

#include <caf/typed_actor.hpp>

#include "messages/type_ids.hpp"

namespace sb {

/// Delivers the event log to the configured webhook endpoints (one sender
/// thread per endpoint, each with its own database session): nothing is
/// ever sent to it on the pipeline's path, so a slow receiver slows nobody.
using webhooks_actor = caf::typed_actor<
  // Each endpoint's delivery state, in configuration order.
  caf::replies_to<status_atom>::with<std::vector<webhook_status>>>;

} // namespace sb
