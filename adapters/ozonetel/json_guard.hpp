#pragma once

// JSON from outside (CloudAgent's callbacks and answers, the JWTs it hands
// out) read so that no input can drive the process off a cliff: the parse is
// iterative (no recursion a deep document could overflow), nesting deeper
// than max_json_depth is refused before parsing, every string and key must
// be valid UTF-8 after unescaping (a lone `\uDC00` decodes to a surrogate,
// which is not), and numbers are range-checked before any conversion.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

namespace sb::ozonetel {

/// Deepest nesting of arrays and objects accepted.
constexpr size_t max_json_depth = 64;

/// Parses `text` into `doc`. Returns "" or why the text is refused
/// ("nested deeper than 64 levels", "not valid JSON at offset N", ...).
std::string parse_untrusted_json(rapidjson::Document& doc,
                                 std::string_view text);

/// The nesting depth of `text` as JSON (brackets outside strings), stopping
/// early once past `limit`.
size_t json_depth(std::string_view text, size_t limit = max_json_depth);

/// Every value under `root` (root included), objects and arrays before
/// their children, visited with an explicit stack. `visit` may change an
/// object's members before its children are pushed.
template <class Visit>
void for_each_value(rapidjson::Value& root, Visit&& visit) {
  std::vector<rapidjson::Value*> pending{&root};
  while (!pending.empty()) {
    auto* value = pending.back();
    pending.pop_back();
    visit(*value);
    if (value->IsObject()) {
      for (auto& member : value->GetObject())
        pending.push_back(&member.value);
    } else if (value->IsArray()) {
      for (auto& element : value->GetArray())
        pending.push_back(&element);
    }
  }
}

/// A JSON number (or a string of digits) as int64 when it is a whole number
/// inside int64's range; false otherwise (1e300, 1.5, -1e19, "12x").
bool whole_number(const rapidjson::Value& value, int64_t& out);

} // namespace sb::ozonetel
