#pragma once

// One AMI message (event or response) as it crosses actor boundaries.
//
// The frame text is kept whole and fields are spans into it, so parsing a
// frame costs one string and one small vector, not one allocation per field.
// Field order is preserved and repeated keys (ChanVariable, ...) are kept.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include "core/strings.hpp"

namespace sb {

/// Offsets of one `Key: Value` line inside the frame text.
struct ami_field_span {
  uint32_t key_offset = 0;
  uint32_t key_length = 0;
  uint32_t value_offset = 0;
  uint32_t value_length = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ami_field_span& x) {
  return f(caf::meta::type_name("ami_field_span"), x.key_offset, x.key_length,
           x.value_offset, x.value_length);
}

struct ami_event {
  /// The PBX (config name) this message came from.
  std::string pbx;
  /// The frame as received, without the terminating empty line.
  std::string text;
  std::vector<ami_field_span> fields;
  /// When the frame arrived: the fallback clock when the PBX sends no
  /// `Timestamp:` (timestampevents=no).
  caf::timestamp received;

  size_t size() const noexcept {
    return fields.size();
  }

  std::string_view key(size_t i) const noexcept {
    return {text.data() + fields[i].key_offset, fields[i].key_length};
  }

  std::string_view value(size_t i) const noexcept {
    return {text.data() + fields[i].value_offset, fields[i].value_length};
  }

  /// First value of `k` (case-insensitive), empty when absent.
  std::string_view get(std::string_view k) const noexcept {
    for (size_t i = 0; i < fields.size(); ++i)
      if (iequals(key(i), k))
        return value(i);
    return {};
  }

  bool has(std::string_view k) const noexcept {
    for (size_t i = 0; i < fields.size(); ++i)
      if (iequals(key(i), k))
        return true;
    return false;
  }

  /// Every value of a repeated key, in order.
  std::vector<std::string_view> all(std::string_view k) const {
    std::vector<std::string_view> result;
    for (size_t i = 0; i < fields.size(); ++i)
      if (iequals(key(i), k))
        result.push_back(value(i));
    return result;
  }

  /// `Event:` value, empty for responses.
  std::string_view name() const noexcept {
    return get("Event");
  }

  bool is_response() const noexcept {
    return has("Response");
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ami_event& x) {
  return f(caf::meta::type_name("ami_event"), x.pbx, x.text, x.fields,
           x.received);
}

/// Raw frames handed from the socket reader to the parser. Frames travel in
/// batches: CAF 0.17 moves about 2 M messages/s, AMI peaks far above that.
struct ami_frame_batch {
  std::string pbx;
  std::vector<std::string> frames;
  caf::timestamp received;
  /// Events the reader dropped because the tracker never reads them
  /// (tracker_ignores in messages/ami_interest.hpp), by event name: counted
  /// by the parser like the rest, never copied, parsed or queued.
  std::vector<std::pair<std::string, uint64_t>> skipped;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ami_frame_batch& x) {
  return f(caf::meta::type_name("ami_frame_batch"), x.pbx, x.frames,
           x.received, x.skipped);
}

/// Parsed events handed from the parser to the call tracker.
struct ami_event_batch {
  std::string pbx;
  std::vector<ami_event> events;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ami_event_batch& x) {
  return f(caf::meta::type_name("ami_event_batch"), x.pbx, x.events);
}

} // namespace sb
