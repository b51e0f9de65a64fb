#include "http/errors.hpp"

#include <caf/sec.hpp>

#include "http/json.hpp"

namespace sb::http {

int status_of(ec code) noexcept {
  switch (code) {
    case ec::database_unavailable:
    case ec::timeout:
    case ec::unavailable:
      return 503;
    case ec::rejected:
    case ec::invalid:
      return 422;
    case ec::not_found:
      return 404;
    case ec::conflict:
      return 409;
    case ec::upstream:
      return 502;
    case ec::none:
      break;
  }
  return 500;
}

const char* error_name_of(ec code) noexcept {
  switch (code) {
    case ec::none:
      return "internal_error";
    case ec::invalid:
      return "invalid_field";
    default:
      return to_string(code);
  }
}

ec classify(const caf::error& err) noexcept {
  if (!err)
    return ec::none;
  if (auto code = code_of(err); code != ec::none)
    return code;
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
      case caf::sec::request_timeout:
        return ec::timeout;
      case caf::sec::invalid_argument:
        return ec::rejected;
      default:
        break;
    }
  }
  return ec::unavailable;
}

void send_failure(response& res, std::string_view what, const caf::error& err) {
  auto code = classify(err);
  std::string message;
  switch (code) {
    case ec::timeout:
      message = std::string{what} + " did not answer in time; retry later";
      break;
    case ec::database_unavailable: {
      message = describe(err);
      if (message.rfind("database unavailable", 0) != 0)
        message = "database unavailable: " + message;
      message += "; retry later";
      break;
    }
    case ec::rejected:
      // The store refused the data itself: the same request fails again.
      message = std::string{what} + " refused this request: " + describe(err);
      break;
    case ec::unavailable:
      message = std::string{what} + " unavailable: " + describe(err);
      break;
    default:
      message = std::string{what} + ": " + describe(err);
  }
  send_error(res, status_of(code), error_name_of(code), message);
}

} // namespace sb::http
