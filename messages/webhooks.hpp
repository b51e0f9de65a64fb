#pragma once

// What a webhook endpoint's sender reports (for /readyz and the tests).

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

namespace sb {

struct webhook_status {
  /// The endpoint's config name.
  std::string endpoint;
  /// Every event up to this id is done (delivered, skipped or
  /// dead-lettered), as last stored.
  int64_t last_event_id = 0;
  /// Failed attempts of the next event (0 = not retrying).
  int64_t attempts = 0;
  /// Why the last attempt failed ("" after a success; never a secret).
  std::string last_error;
  /// Age of the oldest selected event not yet delivered (0 = caught up).
  double lag_seconds = 0;
  /// Events delivered (2xx) and dead-lettered by this process.
  int64_t delivered = 0;
  int64_t dead_letters = 0;
  /// Another instance holds the endpoint's claim (it delivers).
  bool claimed_elsewhere = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_status& x) {
  return f(caf::meta::type_name("webhook_status"), x.endpoint,
           x.last_event_id, x.attempts, x.last_error, x.lag_seconds,
           x.delivered, x.dead_letters, x.claimed_elsewhere);
}

} // namespace sb
