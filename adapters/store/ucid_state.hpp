#pragma once

// A CloudAgent call (domain/ozonetel_call_book.hpp) as the JSON text stored
// in ozonetel_ucid_state.state, and back.

#include <string>

#include <caf/optional.hpp>

#include "adapters/store/database.hpp"
#include "domain/ozonetel_call_book.hpp"

namespace sb::store {

std::string encode_ucid_call(const ucid_call& call);

/// None when the text is not a stored call (the row is then skipped and
/// logged by the caller).
caf::optional<ucid_call> decode_ucid_call(const std::string& text);

/// The row that stores `call`.
ucid_state_row ucid_row(const ucid_call& call);

} // namespace sb::store
