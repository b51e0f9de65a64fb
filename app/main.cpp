// switchboard: wiring lives in app/; this entry point grows as actors land.
#include <caf/all.hpp>

#include "messages/type_ids.hpp"

int main() {
  caf::actor_system_config cfg;
  cfg.add_message_types<caf::id_block::switchboard>();
  caf::actor_system sys{cfg};
  return 0;
}
