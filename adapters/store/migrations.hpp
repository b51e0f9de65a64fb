#pragma once

// The schema of the comms log and customers, as versioned migrations
// (recorded in `schema_migrations`). Statements are written once for both
// backends; `{ID}` (an auto-assigned 64-bit key) and `{TIME}` are the
// spellings that differ, and a migration may carry statements for one backend only where
// their SQL differs (SQLite cannot drop a constraint: it rebuilds the
// table).

#include <string>
#include <vector>

#include "adapters/store/database.hpp"

namespace sb::store {

struct migration {
  int version;
  const char* name;
  /// Run on both backends, after `{ID}` is replaced (dialect()).
  std::vector<const char*> statements;
  /// Then these, on SQLite / PostgreSQL only (after add_if_missing).
  std::vector<const char*> sqlite_only = {};
  std::vector<const char*> postgresql_only = {};
  /// Columns added only when missing: (table, column, definition), after
  /// `statements`. For a column two migrations add (the first one to run
  /// adds it, the other finds it).
  struct guarded_column {
    const char* table;
    const char* column;
    const char* definition;
  };
  std::vector<guarded_column> add_if_missing = {};
};

/// Every migration, oldest first.
const std::vector<migration>& migrations();

int latest_version();

/// `sql` with `{ID}` and `{TIME}` spelled for `kind`.
std::string dialect(std::string sql, backend kind);

/// Serializes concurrent migrations of several switchboard instances sharing
/// one PostgreSQL database (SQLite serializes through BEGIN IMMEDIATE).
constexpr long long migration_lock_key = 0x5357424431; // "SWBD1"

} // namespace sb::store
