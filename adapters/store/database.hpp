#pragma once

// The SQL repository over SOCI: schema migrations, the comms log and
// customers. Knows nothing about actors. One `database` owns one SOCI session
// and is used by one thread at a time (an actor, or an HTTP worker holding it
// through a pool).
//
// Errors are values: every call returns caf::expected, with the database's
// own message (credentials removed) in the error context. Three sb::ec
// codes (core/error.hpp):
//   - ec::database_unavailable: the database is down, locked or the
//     connection was lost. Retrying later is right; HTTP answers 503.
//   - ec::rejected: the database refused this data (constraint, malformed
//     filter such as a bad `since`). Retrying the same data fails again;
//     HTTP answers 422.
//   - ec::invalid: the database URL itself is wrong (a configuration error).
// `is_unavailable(err)` tells an outage from the rest.
//
// For the HTTP layer:
//   - Reads (GET /api/crm/comms, GET /api/crm/customers...) use their own
//     `database` instances, one per HTTP worker thread: SQLite in WAL mode lets
//     readers run concurrently with the single writer; PostgreSQL serves each
//     connection independently. A PostgreSQL session whose server went away is
//     reconnected by the next call (reads retry once after reconnecting).
//   - Writes of the comms log and customers go through the comms_log_writer
//     actor (messages/comms_log_writer_actor.hpp), which owns the only writing
//     session of the process; after adding a customer, send
//     `customer_atom, customer` to the customer_matcher so it matches at once.
//   - Manual entries: validate the request, check the customer exists
//     (get_customer), build `body` with call_body(), fill direction /
//     duration_seconds / occurred_at (iso8601_utc) / customer_id and send
//     `write_atom, entry, idempotency_key` to the writer. source, type and
//     created_at are set by the store.
//   - GET /api/crm/comms: comms_query with filters; `since` is inclusive,
//     `until` exclusive, both any ISO-8601 form parse_iso8601 accepts; limit
//     is clamped to 1..500; the next page's cursor is the last entry's
//     (occurred_at, id).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/optional.hpp>

#include "domain/comms_merge.hpp"
#include "messages/calls.hpp"
#include "messages/comms.hpp"
#include "messages/ozonetel_agents.hpp"
#include "messages/events.hpp"

namespace sb::store {

enum class backend { sqlite, postgresql };

struct open_options {
  /// SQLite: how long a statement waits for a lock held by another
  /// connection before failing with "database is locked". Readers rarely
  /// wait in WAL mode; the writer uses a short value so that a locked file
  /// turns into retries with backoff instead of a blocked actor.
  std::chrono::milliseconds busy_timeout{5000};
  /// PostgreSQL: `connect_timeout` added to the URL unless it sets one.
  int connect_timeout_seconds = 5;
};

/// One UCID's stored state (ozonetel_ucid_state).
struct ucid_state_row {
  std::string ucid;
  std::string agent_id;
  std::string phase;
  /// The call as JSON (adapters/store/ucid_state.hpp).
  std::string state;
};

/// One webhook endpoint's delivery state (table webhook_progress).
struct webhook_progress {
  /// Every event up to this id is done (delivered, skipped or dead-lettered).
  int64_t last_event_id = 0;
  /// Failed attempts of the next event.
  int64_t attempts = 0;
  /// No attempt before this time (ISO-8601 UTC with milliseconds); "" = now.
  std::string next_attempt_at;
  std::string last_error;
};

/// An event given up on (table webhook_dead_letters).
struct webhook_dead_letter {
  int64_t event_id = 0;
  std::string event_type;
  /// The receiver's HTTP status; 0 when it never answered.
  int status = 0;
  std::string error;
  std::string failed_at;
};

/// What one claimed delivery step changed.
struct webhook_step {
  /// Store `progress` (else nothing changed).
  bool store = false;
  webhook_progress progress;
  caf::optional<webhook_dead_letter> dead;
};

class database;

/// One delivery step: gets the claimed progress, may read events through
/// the database and POST; returns what to store.
using webhook_step_fn
    = std::function<caf::expected<webhook_step>(database&,
                                                const webhook_progress&)>;

/// What write_calls did with each record.
enum class write_outcome : uint8_t {
  /// A new row.
  inserted,
  /// An existing Ozonetel row completed with what this record knew.
  merged,
  /// Already stored; nothing changed.
  duplicate,
};

class database {
public:
  /// Connects to `url` (`sqlite:<path>` or `postgresql://...`) and applies
  /// pending migrations (versioned, recorded in `schema_migrations`).
  static caf::expected<std::unique_ptr<database>> open(const std::string& url);

  static caf::expected<std::unique_ptr<database>>
  open(const std::string& url, const open_options& options);

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
  /// (source, origin, ext_message_id): for source "ami" an existing row is left
  /// alone; for "ozonetel" the existing row is completed with the values the
  /// new record knows (non-empty text, non-zero numbers, a customer), so the
  /// callback and the disposition merge into one entry in either order.
  /// Returns how many rows were inserted (not merged or skipped).
  caf::expected<size_t> write_calls(const std::vector<matched_call>& calls);

  /// As above; `outcomes` (when not null) receives one entry per record.
  caf::expected<size_t> write_calls(const std::vector<matched_call>& calls,
                                    std::vector<write_outcome>* outcomes);

  /// Inserts a manual entry (source "manual"). With a non-empty
  /// `idempotency_key` a second call with the same key returns the first
  /// entry instead of inserting. `entry.id` and `created_at` are assigned.
  caf::expected<comms_entry> insert_manual(comms_entry entry,
                                           const std::string& idempotency_key);

  /// As above; `replayed` (when not null) tells whether the key had been
  /// used before (the returned entry is the first one, nothing was written).
  caf::expected<comms_entry> insert_manual(comms_entry entry,
                                           const std::string& idempotency_key,
                                           bool* replayed);

  /// Newest first (occurred_at, then id), filtered and keyset-paged.
  caf::expected<std::vector<comms_entry>> query_comms(const comms_query& q);

  /// The oldest entry of (source, ext_message_id), whichever its origin.
  caf::expected<caf::optional<comms_entry>>
  find_comms(const std::string& source, const std::string& ext_message_id);

  /// The entry of (source, origin, ext_message_id), an entry's identity.
  caf::expected<caf::optional<comms_entry>>
  find_comms(const std::string& source, const std::string& origin,
             const std::string& ext_message_id);

  /// The entries of many calls, one statement prepared for all; `keys` are
  /// identities (source, origin, ext_message_id); the result has one slot
  /// per key, in order.
  caf::expected<std::vector<caf::optional<comms_entry>>> find_comms_many(
    const std::vector<std::tuple<std::string, std::string, std::string>>&
      keys);

  caf::expected<int64_t> count_comms();

  /// When the latest entries of (source, origin) ended (occurred_at plus
  /// duration, the latest of the 100 that began last), 0 when none.
  caf::expected<unix_micros> latest_end(const std::string& source,
                                        const std::string& origin);

  // -- customers ------------------------------------------------------------

  /// Inserts a customer; `phone_e164` must already be normalized by the
  /// caller (empty when the number does not parse).
  caf::expected<customer> add_customer(customer c);

  /// Inserts many customers in one transaction (bulk import); all or none.
  caf::expected<std::vector<customer>> add_customers(std::vector<customer> cs);

  caf::expected<caf::optional<customer>> get_customer(int64_t id);

  caf::expected<std::vector<customer>>
  find_customers_by_e164(const std::string& e164);

  /// Every customer with a normalized number (to build the matcher's index).
  caf::expected<std::vector<customer>> all_customers();

  // -- CloudAgent agents and UCID state -------------------------------------

  /// Every stored agent (password and token hash included), by id.
  caf::expected<std::vector<ozonetel_agent>> load_agents();

  /// Inserts or replaces the agent with `agent.id`.
  caf::expected<void> save_agent(const ozonetel_agent& agent);

  /// False when there was no such agent.
  caf::expected<bool> delete_agent(const std::string& id);

  /// Stores `changed` and deletes `forgotten` in one transaction.
  caf::expected<void>
  save_ucid_states(const std::vector<ucid_state_row>& changed,
                   const std::vector<std::string>& forgotten);

  /// Every stored UCID state.
  caf::expected<std::vector<ucid_state_row>> load_ucid_states();

  /// For each Ozonetel call: true when its comms entry still has to be
  /// written -- no row with its ext_message_id, or a row that writing it
  /// would change (the same merge the writer applies). Reads only.
  caf::expected<std::vector<bool>>
  ozonetel_entries_unwritten(const std::vector<completed_call>& calls);

  /// Customers by id ascending after `q.after_id`, filtered; at most 500.
  caf::expected<std::vector<customer>> list_customers(const customer_query& q);

  /// Inserts a customer unless another already has its number or
  /// external_id (ec::conflict naming that customer). With a non-empty
  /// `idempotency_key` a second call with the same key and data answers the
  /// first customer (`replayed`); the same key with other data is
  /// ec::conflict ("Idempotency-Key was already used ..."). Unmatched calls
  /// from the number get the new customer (`matched_entries`).
  caf::expected<customer_change>
  add_unique_customer(customer c, const std::string& idempotency_key);

  /// Changes the fields `patch` sets (ec::not_found, ec::conflict as
  /// above); re-matches unmatched calls from the (new) number.
  caf::expected<customer_change> update_customer(const customer_patch& patch);

  /// Deletes the customer; its comms entries stay, detached
  /// (`detached_entries`). ec::not_found when there is none.
  caf::expected<customer_change> delete_customer(int64_t id);

  // -- event log (adapters/store/events.cpp) ----------------------------------

  /// Appends `events` (their `id` ignored) in one transaction; ids increase
  /// in commit order, also across instances on one PostgreSQL (the
  /// transaction takes an advisory lock), so a reader that saw id N never
  /// later finds a new event below N. PostgreSQL: NOTIFY
  /// `switchboard_events` at commit. Returns the last id assigned.
  caf::expected<int64_t> append_events(const std::vector<stored_event>& events);

  /// Events with id > `after`, oldest first, at most `limit`.
  caf::expected<std::vector<stored_event>> events_after(int64_t after,
                                                        size_t limit);

  /// The newest event's id (0 when none).
  caf::expected<int64_t> last_event_id();

  /// Deletes events older than `before` (ISO-8601 UTC, the `at` format), in
  /// short transactions. Returns how many went.
  caf::expected<int64_t> prune_events(const std::string& before);

  /// The oldest event's id and time (id 0 when none).
  caf::expected<stored_event> first_event();

  // -- webhook delivery (adapters/store/webhooks.cpp) ------------------------

  /// Creates the progress row of a new `endpoint`, starting after the
  /// newest event (adding a webhook does not replay the retained history);
  /// an existing one is left alone.
  caf::expected<void> ensure_webhook(const std::string& endpoint);

  /// Runs `step` with the progress row of `endpoint` (ensure_webhook)
  /// claimed and stores what it returns (progress and dead letter in one
  /// transaction). PostgreSQL: the row is locked
  /// `FOR UPDATE SKIP LOCKED` in a transaction that stays open while `step`
  /// runs, so with several instances one delivers and the others get false
  /// at once (nothing ran); a crash mid-step rolls back, so the event is sent
  /// again (at least once). SQLite (one instance): no lock is held while
  /// `step` runs.
  caf::expected<bool> claim_webhook(const std::string& endpoint,
                                    const webhook_step_fn& step);

  /// The stored progress of `endpoint` (zero values when it has none).
  caf::expected<webhook_progress> webhook_progress_of(const std::string& endpoint);

  /// The dead letters of `endpoint`, oldest first, at most `limit`.
  caf::expected<std::vector<webhook_dead_letter>>
  webhook_dead_letters(const std::string& endpoint, size_t limit);

  /// The session and its statements (database_impl.hpp): named here so the
  /// store's own files can share helpers; nothing outside the store sees it.
  struct impl;

private:
  explicit database(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// True when `err` means "storage unavailable, try again later": the
/// database (ec::database_unavailable) or the spool file's disk
/// (ec::unavailable), as opposed to data the database refuses.
bool is_unavailable(const caf::error& err);

/// The comms-log body of a call and its notes part (domain/comms_merge.hpp).
using sb::body_notes;
using sb::call_body;

} // namespace sb::store
