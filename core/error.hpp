#pragma once

// switchboard's error codes. Every error that crosses an actor boundary is a
// caf::error in category "sb" with one of these codes and a context message
// saying what to fix; the HTTP edge maps the code (never the text) to a
// status. Register the renderer once per actor system with
// `sb::add_error_category(cfg)`.

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace sb {

enum class ec : uint8_t {
  /// Not an error.
  none = 0,
  /// The database (or another store) cannot be reached now; retry later.
  database_unavailable,
  /// The store or a peer refused the data as invalid for it.
  rejected,
  /// The thing asked for does not exist.
  not_found,
  /// The request contradicts current state (a reused idempotency key, a
  /// call still up, ...).
  conflict,
  /// The request itself is malformed.
  invalid,
  /// A service outside switchboard (CloudAgent, a PBX) failed or refused.
  upstream,
  /// An answer did not come in time.
  timeout,
  /// Something switchboard needs is not configured or not running.
  unavailable,
};

/// "database_unavailable", "rejected", ...
const char* to_string(ec x) noexcept;

/// The inverse of to_string; false for an unknown name.
bool from_string(std::string_view name, ec& x) noexcept;

/// The code of `err` when it is in category "sb", else ec::none.
ec code_of(const caf::error& err) noexcept;

/// One line for logs and API messages: the context text when there is one,
/// else the code's name; errors of other categories are rendered by CAF's
/// own names ("request_timeout", ...).
std::string describe(const caf::error& err);

/// Registers the "sb" category's renderer with `cfg`.
void add_error_category(caf::actor_system_config& cfg);

} // namespace sb

CAF_ERROR_CODE_ENUM(sb::ec, "sb")
