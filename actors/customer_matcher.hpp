#pragma once

// customer_matcher: attaches the CRM customer to each completed call by its
// outside number and forwards the matched calls to the comms-log writer.
//
//   auto matcher = sys.spawn(customer_matcher, cfg.phone, cfg.db.url, writer);
//
// The phone index (E.164 -> customer ids) is loaded from the database at
// start (a short-lived connection of its own) and again on `reload_atom`
// (e.g. after `switchboard import-customers`); `customer_atom, customer`
// indexes one added or changed customer at once. Numbers are normalized with
// phone::normalizer in phone_config.default_region. Internal calls and
// numbers that do not normalize (anonymous, withheld, extensions, garbage)
// get no customer; when several customers share a number the lowest id wins,
// so the choice is stable across restarts.
//
// Until the first load succeeds, calls are held (up to max_held, then
// forwarded unmatched with a warning) and the load is retried with backoff:
// writing them without a customer would be permanent. Held calls are also
// appended to a spool file of their own (fsync'd, see
// durable_customer_matcher), so a crash while the database is down loses
// none: the next start holds them again. The file is emptied once the
// writer has answered a flush for them (committed or in its own spool).
//
// `flush_atom, budget_ms` (a stop) hands on whatever is held, unmatched if
// the index never loaded, then asks the writer to flush and answers its
// drain_report.
//
// Events: what the tracker tells about live calls (std::vector<live_notice>)
// goes on to the event log (`events_atom, actor` sets it), call.ringing with
// the customer looked up now, while the phone rings; every completed AMI
// call is a call.ended event.
//
// Metrics: switchboard_calls_matched_total, switchboard_calls_unmatched_total
// (outside calls with no customer; internal calls are neither).

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "adapters/metrics/registry.hpp"
#include "adapters/phone/normalizer.hpp"
#include "adapters/store/spool.hpp"
#include "config/config.hpp"
#include "core/flow_gate.hpp"
#include "messages/comms_log_writer_actor.hpp"
#include "messages/customer_matcher_actor.hpp"
#include "messages/event_log_actor.hpp"

namespace sb {

struct customer_matcher_state {
  static inline const char* name = "customer_matcher";

  static constexpr size_t max_held = 10000;
  static constexpr std::chrono::milliseconds reload_backoff_initial{500};
  static constexpr std::chrono::milliseconds reload_backoff_max{30000};
  /// Customers also arrive behind our back (`switchboard import-customers`,
  /// another instance on the same PostgreSQL, the CRM itself): the index is
  /// reloaded this often.
  static constexpr std::chrono::milliseconds refresh_interval{60000};

  metrics::actor_metrics* metrics = &metrics::global().actor(name);

  std::unique_ptr<phone::normalizer> normalizer;
  std::string db_url;
  comms_log_writer_actor writer;

  /// E.164 -> ids of the customers with that number, ascending.
  std::unordered_map<std::string, std::vector<int64_t>> ids_by_e164;
  /// Reverse index, so a customer whose number changed leaves its old entry.
  std::unordered_map<int64_t, std::string> e164_by_id;
  /// Names for the events and live calls that show the customer.
  std::unordered_map<int64_t, std::string> name_by_id;
  /// Where events go (none = not logged).
  event_log_actor events;

  bool loaded = false;
  /// Calls that arrived before the index could be loaded.
  std::vector<completed_call> held;
  /// The same calls on disk (none without a path).
  std::unique_ptr<store::spool> held_spool;
  /// Charged by the tracker for every call it hands on, released by the
  /// writer; held calls are released while held (bounded by max_held, on
  /// disk) and charged again when handed on. Null = no bound.
  std::shared_ptr<flow_gate> downstream;
  /// A writer flush for released calls is awaited (one at a time).
  bool release_in_flight = false;
  bool reload_scheduled = false;
  std::chrono::milliseconds reload_backoff = reload_backoff_initial;
  /// One periodic refresh timer at a time, however many reloads are asked.
  bool refresh_pending = false;
  std::chrono::steady_clock::time_point refresh_due;

  /// Click-to-call requests by id, until their call completed (bounded:
  /// the oldest go first, and none stays longer than originate_keep).
  static constexpr size_t max_originates = 10000;
  static constexpr std::chrono::hours originate_keep{6};
  std::unordered_map<std::string, originate_request> originates;
  std::deque<std::pair<std::string, std::chrono::steady_clock::time_point>>
      originate_order;
  /// Registers `req`, dropping what is past the bounds.
  void remember(originate_request req);
  /// The request `id` names, null when unknown (or empty).
  const originate_request* originate_of(const std::string& id) const;

  metrics::counter* matched = nullptr;
  metrics::counter* unmatched = nullptr;

  /// Number as the PBX presented it -> E.164 (empty = never matches).
  /// libphonenumber costs 40-100 us per number and customers call again and
  /// again from the same numbers; cleared whole when full, so it stays
  /// bounded without bookkeeping per hit.
  static constexpr size_t max_cached_numbers = 50000;
  std::unordered_map<std::string, std::string> e164_cache;

  /// E.164 of `raw` through the cache.
  const std::string& to_e164(const std::string& raw);

  /// Replaces the index with `customers`.
  void rebuild(const std::vector<customer>& customers);
  /// Adds, moves or (empty phone_e164) removes one customer's entry.
  void index(int64_t id, const std::string& e164);
  /// The name of customer `id` (empty when unknown).
  const std::string& name_of(int64_t id) const;
  /// The customer for `e164`, none when nobody has that number.
  caf::optional<int64_t> find(const std::string& e164) const;
  /// Normalizes and looks up every call.
  std::vector<matched_call> match(std::vector<completed_call> calls);
};

customer_matcher_actor::behavior_type customer_matcher(
    customer_matcher_actor::stateful_pointer<customer_matcher_state> self,
    const phone_config& phone, std::string db_url,
    comms_log_writer_actor writer);

/// The same, with its held calls also in the spool file `held_path`
/// (opened or created; calls found in it are held again at start).
customer_matcher_actor::behavior_type durable_customer_matcher(
    customer_matcher_actor::stateful_pointer<customer_matcher_state> self,
    const phone_config& phone, std::string db_url,
    comms_log_writer_actor writer, const std::string& held_path);

/// As durable_customer_matcher, with the tracker's downstream gate.
customer_matcher_actor::behavior_type bounded_customer_matcher(
    customer_matcher_actor::stateful_pointer<customer_matcher_state> self,
    const phone_config& phone, std::string db_url,
    comms_log_writer_actor writer, const std::string& held_path,
    std::shared_ptr<flow_gate> downstream);

} // namespace sb
