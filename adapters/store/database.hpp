#pragma once

// The SQL repository over SOCI: schema migrations, the comms log and
// customers. Knows nothing about actors. One `database` owns one SOCI session
// and is used by one thread at a time (an actor, or an HTTP worker holding it
// through a pool).
//
// Errors are values: every call returns caf::expected, with the database's
// own message (credentials removed) in the error context.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/optional.hpp>

#include "messages/calls.hpp"
#include "messages/comms.hpp"

namespace sb::store {

enum class backend { sqlite, postgresql };

class database {
public:
  /// Connects to `url` (`sqlite:<path>` or `postgresql://...`) and applies
  /// pending migrations (versioned, recorded in `schema_migrations`).
  static caf::expected<std::unique_ptr<database>> open(const std::string& url);

  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  backend kind() const noexcept;

  /// Cheap round trip (SELECT 1), for readiness and to probe recovery.
  caf::expected<void> ping();

  /// Schema version after migrations.
  caf::expected<int> schema_version();

  // -- comms log ------------------------------------------------------------

  /// Writes all records in one transaction. Idempotent on
  /// (source, ext_message_id): for source "ami" an existing row is left
  /// alone; for "ozonetel" the existing row is completed with the values the
  /// new record knows (non-empty text, non-zero numbers, a customer), so the
  /// callback and the disposition merge into one entry in either order.
  /// Returns how many rows were inserted (not merged or skipped).
  caf::expected<size_t> write_calls(const std::vector<matched_call>& calls);

  /// Inserts a manual entry (source "manual"). With a non-empty
  /// `idempotency_key` a second call with the same key returns the first
  /// entry instead of inserting. `entry.id` and `created_at` are assigned.
  caf::expected<comms_entry> insert_manual(comms_entry entry,
                                           const std::string& idempotency_key);

  /// Newest first (occurred_at, then id), filtered and keyset-paged.
  caf::expected<std::vector<comms_entry>> query_comms(const comms_query& q);

  caf::expected<caf::optional<comms_entry>>
  find_comms(const std::string& source, const std::string& ext_message_id);

  caf::expected<int64_t> count_comms();

  // -- customers ------------------------------------------------------------

  /// Inserts a customer; `phone_e164` must already be normalized by the
  /// caller (empty when the number does not parse).
  caf::expected<customer> add_customer(customer c);

  caf::expected<caf::optional<customer>> get_customer(int64_t id);

  caf::expected<std::vector<customer>>
  find_customers_by_e164(const std::string& e164);

  /// Every customer with a normalized number (to build the matcher's index).
  caf::expected<std::vector<customer>> all_customers();

private:
  struct impl;
  explicit database(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Formats unix micros as UTC ISO-8601 with a `Z` (second resolution).
std::string iso8601_utc(unix_micros t);

/// Parses ISO-8601 (`2026-11-21T22:09:58Z`, with offset, fractional seconds,
/// or a space instead of T) to unix micros; none when malformed.
caf::optional<unix_micros> parse_iso8601(const std::string& text);

} // namespace sb::store
