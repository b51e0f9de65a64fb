#pragma once

// Events as they travel to the durable event log (the `events` table) and
// out of it to the live stream and the webhooks (docs/architecture.md,
// "Event log"; the payload of each type in docs/openapi.yaml).

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include "core/enum_names.hpp"
#include "core/time.hpp"

namespace sb {

/// One event to append. `payload_json` is the event's `data` object as JSON
/// text; the log stamps `at` (when 0) and assigns the id.
struct event_record {
  /// "call.ringing", "ozonetel.call", ... (docs/openapi.yaml lists them).
  std::string type;
  /// The PBX's config name, "ozonetel", "manual" or "crm".
  std::string origin;
  /// The call's id within its source (Linkedid, UCID), empty when none.
  std::string call_id;
  /// The extension the event concerns (rung, answering, transferred to),
  /// for the stream's `extension=` filter.
  std::string extension;
  /// The CloudAgent agent, for the stream's `agent=` filter.
  std::string agent_id;
  caf::optional<int64_t> customer_id;
  std::string payload_json;
  /// When it happened (unix micros); 0 = when the log receives it.
  unix_micros at = 0;
  /// Set (with an empty payload) for `call.logged` / `manual.logged`: the
  /// log reads the comms entry (source, call_id) as GET /api/crm/comms
  /// shows it and sends `{"entry": ...}`, so the pipeline never waits for it.
  std::string entry_source;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_record& x) {
  return f(caf::meta::type_name("event_record"), x.type, x.origin, x.call_id,
           x.extension, x.agent_id, x.customer_id, x.payload_json, x.at,
           x.entry_source);
}

/// An event as stored: what GET /api/events and the webhooks send.
struct stored_event {
  int64_t id = 0;
  std::string type;
  /// UTC ISO-8601 with milliseconds and a Z.
  std::string at;
  std::string origin;
  std::string call_id;
  std::string extension;
  std::string agent_id;
  caf::optional<int64_t> customer_id;
  std::string payload_json;
};

/// What the call tracker tells about a live AMI call (before it ends), on
/// its way through the customer matcher (who adds the customer) to the
/// event log.
/// `originate_failed`: an OriginateResponse with `Response: Failure` for one
/// of our Originates (click-to-call).
enum class live_notice_kind : uint8_t {
  ringing,
  answered,
  transferred,
  originate_failed
};

inline constexpr const char* live_notice_kind_names[]
    = {"ringing", "answered", "transferred", "originate_failed"};

inline const char* to_string(live_notice_kind x) noexcept {
  return enum_name(live_notice_kind_names, x);
}

struct live_notice {
  live_notice_kind kind = live_notice_kind::ringing;
  std::string call_id;
  std::string origin;
  /// "inbound" | "outbound" | "internal".
  std::string direction;
  std::string external_number;
  std::string did;
  /// ringing: every phone rung so far (the last one is `extension`).
  std::vector<std::string> extensions;
  /// ringing: the phone that starts ringing now (outbound: the caller);
  /// answered: who answered; transferred: where the call went.
  std::string extension;
  /// transferred: the phone the call left.
  std::string from_extension;
  /// Call clock (unix micros) of the event.
  unix_micros at = 0;
  /// The click-to-call request that placed the call, empty when none.
  std::string request_id;
  /// originate_failed: why (messages/originate.hpp) and Asterisk's code.
  std::string reason;
  int64_t reason_code = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, live_notice& x) {
  return f(caf::meta::type_name("live_notice"), x.kind, x.call_id, x.origin,
           x.direction, x.external_number, x.did, x.extensions, x.extension,
           x.from_extension, x.at, x.request_id, x.reason, x.reason_code);
}

} // namespace sb
