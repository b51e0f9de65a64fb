#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

namespace sb {

/// What the supervisor knows of one PBX connection (for /readyz and metrics).
struct connection_status {
  std::string pbx;
  /// "connecting" | "logged_in" | "backing_off" | "stopped"
  std::string state;
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
