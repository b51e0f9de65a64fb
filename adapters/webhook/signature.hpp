#pragma once

// How a webhook request is signed: X-Switchboard-Signature is
// `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, where the
// timestamp is X-Switchboard-Timestamp (Unix seconds), so a receiver that
// checks the signature and the timestamp's age also refuses replays.

#include <string>
#include <string_view>

namespace sb::webhook {

/// Lower-case hex HMAC-SHA256 of `message` under `key` (OpenSSL).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

/// The X-Switchboard-Signature value for `timestamp` and `body`.
std::string signature(std::string_view secret, std::string_view timestamp,
                      std::string_view body);

} // namespace sb::webhook
