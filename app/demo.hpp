#pragma once

// `switchboard demo`: a newcomer's first run with no PBX at hand. A local AMI
// replay server plays a recorded burst of 50 calls (tests/fixtures/ami) at a
// visible pace, the server connects to it like to any PBX, and calls flow
// into the comms log and /metrics.

#include <memory>

#include <caf/expected.hpp>

#include "adapters/ami/replay_server.hpp"
#include "config/config.hpp"

namespace sb {

struct demo_setup {
  std::unique_ptr<ami::replay_server> pbx;
  /// Customers with numbers that call in the recording, to show matching.
  std::vector<std::pair<std::string, std::string>> customers;
};

/// Starts the replay PBX and points `cfg` at it (one PBX named "demo"); sets
/// a demo API token when none is configured.
caf::expected<demo_setup> start_demo(app_config& cfg);

} // namespace sb

namespace sb {

class server;

/// Adds the demo's customers through the running server (idempotent: a
/// number already known is left alone).
void seed_demo_customers(server& srv, const demo_setup& setup);

} // namespace sb
