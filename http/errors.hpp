#pragma once

// The one place where an error becomes an HTTP answer: the status and the
// JSON `error` code come from the error's code (sb::ec, or CAF's own codes
// for what CAF reports itself: a request timeout, a receiver that is down),
// never from its message text.

#include <string_view>

#include <caf/error.hpp>

#include "core/error.hpp"
#include "http/message.hpp"

namespace sb::http {

/// The status for `code`: database_unavailable, timeout and unavailable
/// 503; rejected and invalid 422; not_found 404; conflict 409; upstream
/// 502; none 500.
int status_of(ec code) noexcept;

/// The `error` field of the JSON answer for `code` ("database_unavailable",
/// "rejected", ...).
const char* error_name_of(ec code) noexcept;

/// The sb::ec an error stands for: its own code in category "sb", and for
/// CAF's system errors request_timeout -> timeout, invalid_argument ->
/// rejected, runtime_error (the store's outage) -> database_unavailable;
/// anything else (request_receiver_down, ...) unavailable.
ec classify(const caf::error& err) noexcept;

/// Answers a failed actor request or database call: status and code from
/// classify(err); the message names `what` ("database", "comms log
/// writer", ...) and says what the error says.
void send_failure(response& res, std::string_view what, const caf::error& err);

} // namespace sb::http
