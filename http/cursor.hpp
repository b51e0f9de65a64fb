#pragma once

// The opaque paging cursor of GET /api/crm/comms. It carries the keyset
// position (occurred_at, id) of the last entry of a page; clients pass it back
// unchanged. base64url, so it is safe in a query string.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::http {

struct comms_cursor {
  std::string occurred_at;
  int64_t id = 0;
};

std::string encode_cursor(const comms_cursor& c);

/// None when `text` is not a cursor this server issued.
std::optional<comms_cursor> decode_cursor(std::string_view text);

} // namespace sb::http
