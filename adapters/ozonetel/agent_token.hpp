#pragma once

// Agent tokens: 32 random bytes from OpenSSL's CSPRNG, shown once as
// "sbat_<hex>"; only their SHA-256 (hex) is ever stored.

#include <string>
#include <string_view>

namespace sb::ozonetel {

/// A new agent token (throws std::runtime_error when the CSPRNG fails).
std::string new_agent_token();

/// Lower-case hex SHA-256 of `token`.
std::string token_hash(std::string_view token);

} // namespace sb::ozonetel
