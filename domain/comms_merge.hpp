#pragma once

// How comms-log entries are written and merged: the body text of a call, and
// the merge policy for a call reported more than once (Ozonetel's callback
// and its disposition arrive separately, in either order). Pure code: the
// store applies it inside its transaction.

#include <cstdint>
#include <string>
#include <string_view>

#include "messages/comms.hpp"

namespace sb {

/// The comms-log body of a call: `Call duration: <N>s`, then a newline and
/// the notes when there are any.
std::string call_body(int64_t duration_seconds, std::string_view notes);

/// The body of a call not seen from start to end (connection lost, PBX
/// restarted, joined mid-way, never ended): says the duration is unknown, or
/// at least the best known figure, never a made-up exact one; then the notes.
std::string incomplete_call_body(int64_t duration_seconds,
                                 std::string_view notes);

/// call_body or incomplete_call_body, as `incomplete` says.
std::string entry_body(bool incomplete, int64_t duration_seconds,
                       std::string_view notes);

/// The notes part of a body built by call_body (empty when none).
std::string body_notes(std::string_view body);

/// How strong a disposition is: a person answering is the strongest fact a
/// report can carry; a later report never downgrades it.
int disposition_rank(std::string_view disposition);

/// Completes `old` with what `incoming` knows: non-empty text and non-zero
/// numbers of the newer report win, empty / zero ones keep the stored value;
/// a known start (`incoming_knows_start`) replaces the stored stand-in; notes
/// accumulate; `answered` is never downgraded; the entry stays incomplete
/// only while every report is (one that saw the call through completes it,
/// and an incomplete report's figures never replace a complete one's).
/// Returns true when anything changed.
bool merge_into(comms_entry& old, const comms_entry& incoming,
                bool incoming_knows_start);

} // namespace sb
