// What arrives in URLs and form bodies: query strings and multipart fields
// decode or are refused without a crash, and a query decodes into no more
// pairs than it has separators.

#include <algorithm>
#include <string>

#include "fuzz/fuzz.hpp"
#include "http/form.hpp"

SB_FUZZ_TARGET(input) {
  auto pairs = sb::http::parse_query(input);
  auto separators = static_cast<size_t>(
    std::count(input.begin(), input.end(), '&'));
  sb::fuzz::require(pairs.size() <= separators + 1,
                    "more query pairs than pieces");
  // The first line is the Content-Type, the rest the body.
  auto newline = input.find('\n');
  if (newline == std::string_view::npos)
    return;
  auto field = sb::http::multipart_field(input.substr(0, newline),
                                         input.substr(newline + 1), "data");
  if (field)
    sb::fuzz::require(field->size() <= input.size(),
                      "a multipart field larger than its body");
}
