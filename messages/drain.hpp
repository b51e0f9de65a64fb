#pragma once

// What a stop (or a flush) left behind, as the comms-log writer reports it:
// the basis of the final log line, so every count must be true.

#include <cstdint>

#include <caf/meta/type_name.hpp>

namespace sb {

struct drain_report {
  /// Call records committed to the database since start-up (new rows and
  /// records already there alike).
  int64_t committed = 0;
  /// Records waiting in the spool file (fsync'd), sent on the next start.
  int64_t spooled = 0;
  /// Records that are neither committed nor spooled: only in memory, gone
  /// when the process exits. Non-zero only when the spool cannot take them
  /// (no spool, disk full, size limit), and then logged as an error.
  int64_t lost = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, drain_report& x) {
  return f(caf::meta::type_name("drain_report"), x.committed, x.spooled,
           x.lost);
}

} // namespace sb
