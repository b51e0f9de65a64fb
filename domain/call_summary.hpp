#pragma once

// The call-record rules (docs/architecture.md, "Call records"): what one
// call's channels, bridges and CDR rows say about its direction, parties,
// disposition and times. Pure: no clock, no I/O.

#include <string>
#include <string_view>

#include "domain/call_state.hpp"
#include "messages/calls.hpp"

namespace sb {

/// The completed_call of `call` (Linkedid `linkedid`) from PBX `origin`.
/// `incomplete`: finalized without its last Hangup.
completed_call summarize_call(std::string_view origin,
                              const std::string& linkedid,
                              const call_record& call, bool incomplete);

} // namespace sb
