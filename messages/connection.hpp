#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/meta/type_name.hpp>

#include "core/enum_names.hpp"

namespace sb {

/// Where one PBX connection is.
enum class connection_state : uint8_t {
  connecting,
  logged_in,
  /// Logged in and the first events arrived (the PBX really serves it);
  /// reported by the connection, shown as logged_in.
  streaming,
  /// Failed; the supervisor waits before the next attempt.
  backing_off,
  stopped,
  /// Nobody could say (the supervisor did not answer).
  unknown,
};

inline constexpr const char* connection_state_names[]
    = {"connecting", "logged_in", "streaming", "backing_off", "stopped",
       "unknown"};

inline const char* to_string(connection_state x) noexcept {
  return enum_name(connection_state_names, x);
}

inline bool from_string(std::string_view s, connection_state& x) noexcept {
  return enum_from_name(connection_state_names, s, x);
}

/// What the supervisor knows of one PBX connection (for /readyz and metrics).
struct connection_status {
  std::string pbx;
  connection_state state = connection_state::connecting;
  /// Why the last attempt failed (never contains a secret).
  std::string last_error;
  int64_t restarts = 0;
  /// Unix micros of the last state change.
  int64_t since = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_status& x) {
  return f(caf::meta::type_name("connection_status"), x.pbx, x.state,
           x.last_error, x.restarts, x.since);
}

} // namespace sb
