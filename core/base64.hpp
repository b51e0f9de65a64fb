#pragma once

// base64url (RFC 4648 section 5): the HTTP API's opaque cursors and the
// payload segment of CloudAgent's JWTs.

#include <optional>
#include <string>
#include <string_view>

namespace sb {

/// base64url without padding.
std::string base64url_encode(std::string_view bytes);

/// Strict base64url: no padding, no other alphabet, the unused bits of the
/// last character zero. None for anything else.
std::optional<std::string> base64url_decode(std::string_view text);

/// Lenient decoding for tokens issued by others: accepts both alphabets
/// (`-_` and `+/`) and stops at `=` padding. None on any other character.
std::optional<std::string> base64_decode_lenient(std::string_view text);

} // namespace sb
