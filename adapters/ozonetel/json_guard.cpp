#include "adapters/ozonetel/json_guard.hpp"

#include <charconv>
#include <cmath>

#include <rapidjson/error/en.h>

#include "core/utf8.hpp"

namespace sb::ozonetel {

size_t json_depth(std::string_view text, size_t limit) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit)
          return deepest;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

namespace {

bool all_strings_utf8(rapidjson::Document& doc) {
  bool ok = true;
  for_each_value(doc, [&ok](rapidjson::Value& value) {
    if (!ok)
      return;
    if (value.IsString()) {
      ok = valid_utf8({value.GetString(), value.GetStringLength()});
    } else if (value.IsObject()) {
      for (auto& member : value.GetObject())
        if (!valid_utf8(
                {member.name.GetString(), member.name.GetStringLength()}))
          ok = false;
    }
  });
  return ok;
}

} // namespace

std::string parse_untrusted_json(rapidjson::Document& doc,
                                 std::string_view text) {
  if (json_depth(text) > max_json_depth)
    return "nested deeper than " + std::to_string(max_json_depth) + " levels";
  constexpr unsigned flags
      = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  doc.Parse<flags>(text.data(), text.size());
  if (doc.HasParseError())
    return std::string{"not valid JSON ("}
           + rapidjson::GetParseError_En(doc.GetParseError()) + " at offset "
           + std::to_string(doc.GetErrorOffset()) + ")";
  // RapidJSON turns a lone low surrogate escape (\uDC00) into bytes that are
  // not UTF-8; refuse rather than store them.
  if (!all_strings_utf8(doc)) {
    doc.SetNull();
    return "a string is not valid UTF-8 (lone surrogate escape?)";
  }
  return {};
}

bool whole_number(const rapidjson::Value& value, int64_t& out) {
  if (value.IsInt64()) {
    out = value.GetInt64();
    return true;
  }
  if (value.IsUint64())
    return false; // above INT64_MAX
  if (value.IsDouble()) {
    double d = value.GetDouble();
    // 2^63 is exact as a double; every double below it converts defined.
    if (!std::isfinite(d) || d != std::trunc(d) || d < -9223372036854775808.0
        || d >= 9223372036854775808.0)
      return false;
    out = static_cast<int64_t>(d);
    return true;
  }
  if (value.IsString()) {
    const char* first = value.GetString();
    const char* last = first + value.GetStringLength();
    int64_t parsed = 0;
    auto [end, ec] = std::from_chars(first, last, parsed);
    if (first == last || ec != std::errc{} || end != last)
      return false;
    out = parsed;
    return true;
  }
  return false;
}

} // namespace sb::ozonetel
