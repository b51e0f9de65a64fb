// The AMI frame parser: any frame either parses or is refused; a parsed
// event's fields are non-empty keys, and parsing the same bytes as a view
// or as an owned string gives the same event.

#include <string>

#include "adapters/ami/codec.hpp"
#include "fuzz/fuzz.hpp"

SB_FUZZ_TARGET(input) {
  sb::ami_event from_view;
  bool viewed = sb::ami::parse_frame(input, from_view);
  sb::ami_event from_string;
  bool owned = sb::ami::parse_frame(std::string{input}, from_string);
  sb::fuzz::require(viewed == owned, "view and string parses disagree");
  if (!viewed)
    return;
  sb::fuzz::require(from_view.fields.size() == from_string.fields.size(),
                    "view and string parses give different fields");
  for (size_t i = 0; i < from_view.size(); ++i) {
    const auto& span = from_view.fields[i];
    sb::fuzz::require(span.key_length > 0, "a field without a key");
    sb::fuzz::require(span.value_offset + span.value_length
                        <= from_view.text.size(),
                      "a field outside the frame");
    sb::fuzz::require(from_view.key(i) == from_string.key(i)
                        && from_view.value(i) == from_string.value(i),
                      "view and string parses give different fields");
  }
}
