#pragma once

// Decoding what arrives in a URL or a form body: percent-decoding, query
// strings, and the fields of a multipart/form-data body (RFC 7578).

#include <optional>
#include <string>
#include <string_view>

#include "http/message.hpp"

namespace sb::http {

/// `a=1&b=x%20y` -> {{"a","1"},{"b","x y"}} (empty pieces skipped).
field_list parse_query(std::string_view query);

/// The content of field `name` in a multipart/form-data `body` whose
/// Content-Type header is `content_type` (it carries the boundary); nullopt
/// when the body is not multipart, malformed or has no such field.
std::optional<std::string> multipart_field(std::string_view content_type,
                                           std::string_view body,
                                           std::string_view name);

} // namespace sb::http
