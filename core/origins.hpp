#pragma once

// Web origins as configured for CORS (http.cors_origins).

#include <string>
#include <string_view>
#include <vector>

namespace sb {

/// "https://crm.example.com, http://localhost:3000" -> the origins, lower
/// case, without blanks or repeats; the first entry that is not an origin
/// (scheme://host[:port]) is described in `problem` and left out.
std::vector<std::string> parse_origins(std::string_view list,
                                       std::string* problem = nullptr);

} // namespace sb
