// The INI configuration: any text loads or is refused with a reason, and
// what loads describes itself as INI that loads back to the same
// description (secrets, masked as ***, aside).

#include <string>

#include "config/config.hpp"
#include "fuzz/fuzz.hpp"

SB_FUZZ_TARGET(input) {
  auto cfg = sb::parse_config_text(std::string{input});
  if (!cfg) {
    sb::fuzz::require(!sb::error_text(cfg.error()).empty(),
                      "refused without a reason");
    return;
  }
  auto described = sb::describe(*cfg);
  auto again = sb::parse_config_text(described);
  sb::fuzz::require(static_cast<bool>(again),
                    "describe() output does not load back");
  sb::fuzz::require(sb::describe(*again) == described,
                    "describe() output loads back differently");
}
