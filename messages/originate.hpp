#pragma once

// Click-to-call on a PBX (POST /api/calls/originate): the request as it
// travels from the HTTP route through the AMI supervisor to the PBX's
// connection, and what the PBX answered.

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include "core/enum_names.hpp"

namespace sb {

/// Every request id starts with this; it is the Originate's ActionID too,
/// which Asterisk repeats in the OriginateResponse event, so the tracker
/// tells our Originates from other AMI clients' by it.
inline constexpr std::string_view originate_id_prefix = "sb-orig-";

inline bool is_originate_id(std::string_view action_id) noexcept {
  return action_id.size() > originate_id_prefix.size()
         && action_id.substr(0, originate_id_prefix.size())
                == originate_id_prefix;
}

struct originate_request {
  /// `originate_id_prefix` + random hex; the Originate's ActionID.
  std::string request_id;
  /// The PBX's config name; empty = the only one configured.
  std::string pbx;
  std::string extension;
  /// As dialled (the Originate's Exten).
  std::string phone_number;
  caf::optional<int64_t> customer_id;
  /// The customer's name, empty when none (for the CallerID).
  std::string customer_name;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, originate_request& x) {
  return f(caf::meta::type_name("originate_request"), x.request_id, x.pbx,
           x.extension, x.phone_number, x.customer_id, x.customer_name);
}

enum class originate_outcome : uint8_t {
  /// `Response: Success` ("Originate successfully queued").
  queued,
  /// `Response: Error` (e.g. "Permission denied": no `originate` class).
  refused,
  /// No such PBX configured.
  unknown_pbx,
  /// The PBX is not connected or not logged in.
  not_connected,
  /// pbx.<name>.max_pending_originates are waiting for their answer.
  too_many,
  /// No answer within pbx.<name>.originate_answer_seconds.
  timeout,
  /// The session dropped before the PBX answered.
  lost,
};

inline constexpr const char* originate_outcome_names[]
    = {"queued",    "refused", "unknown_pbx", "not_connected",
       "too_many",  "timeout", "lost"};

inline const char* to_string(originate_outcome x) noexcept {
  return enum_name(originate_outcome_names, x);
}

inline bool from_string(std::string_view s, originate_outcome& x) noexcept {
  return enum_from_name(originate_outcome_names, s, x);
}

struct originate_reply {
  originate_outcome outcome = originate_outcome::queued;
  /// The PBX that got it (config name).
  std::string pbx;
  /// The PBX's `Message:` (refused), or what went wrong.
  std::string message;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, originate_reply& x) {
  return f(caf::meta::type_name("originate_reply"), x.outcome, x.pbx,
           x.message);
}

/// What an OriginateResponse's `Reason` (the last control frame Asterisk
/// read from the originated channel) means for a failed Originate:
/// 0 the channel failed (no such endpoint, refused), 1 hung up, 3 rang
/// without answer (timeout), 5 busy, 8 congestion.
inline const char* originate_failure_reason(int64_t code) noexcept {
  switch (code) {
    case 1:
      return "hangup";
    case 3:
      return "no_answer";
    case 5:
      return "busy";
    case 8:
      return "congestion";
    default:
      return "failed";
  }
}

} // namespace sb
