#pragma once

// Reads the operations (method + path template) out of docs/openapi.yaml's
// text, so tests can check that every route a server serves is documented.
// Not a YAML parser: it relies on the file's layout (two-space indentation,
// paths under `paths:` at column 2, methods at column 4), which the file
// keeps.

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/router.hpp"

namespace sb::http {

/// (METHOD, path) pairs, method upper-case.
using operation_set = std::set<std::pair<std::string, std::string>>;

operation_set openapi_operations(std::string_view yaml);

/// docs/openapi.yaml as it was when this binary was built (compiled in by a
/// CMake step, so the server serves its own spec without reading a file).
std::string_view openapi_document() noexcept;

/// Routes of `served` that `yaml` does not describe, as "METHOD /path".
std::vector<std::string> undocumented_routes(const std::vector<route>& served,
                                             std::string_view yaml);

} // namespace sb::http
