// The comms-log paging cursor: any text is refused or decodes to a
// position that encodes back to a cursor decoding to the same position.

#include "fuzz/fuzz.hpp"
#include "http/cursor.hpp"

SB_FUZZ_TARGET(input) {
  auto decoded = sb::http::decode_cursor(input);
  if (!decoded)
    return;
  auto again = sb::http::decode_cursor(sb::http::encode_cursor(*decoded));
  sb::fuzz::require(again.has_value(), "an issued cursor is refused");
  sb::fuzz::require(again->occurred_at == decoded->occurred_at
                      && again->id == decoded->id,
                    "a cursor does not survive a round trip");
}
