#pragma once

// The JSON shape of the rows that leave switchboard in more than one way:
// a comms entry is the same object in GET /api/crm/comms, in the event log
// (`call.logged`, `manual.logged`) and in webhook bodies, so it is written
// in one place. Also the small helpers the event payloads are built with.

#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/time.hpp"
#include "messages/comms.hpp"

namespace sb::json {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void write_string(writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

/// `key: value`, or `key: null` when `value` is empty.
inline void write_optional_text(writer& w, const char* key,
                                const std::string& value) {
  w.Key(key);
  if (value.empty())
    w.Null();
  else
    write_string(w, value);
}

/// A comms entry exactly as GET /api/crm/comms returns it.
void write_entry(writer& w, const comms_entry& x);

/// `write_entry` on its own.
std::string entry_json(const comms_entry& x);

/// UTC ISO-8601 with milliseconds and a Z (`2026-12-01T16:00:00.123Z`):
/// fixed width, so text order is time order.
std::string iso8601_millis(unix_micros t);

} // namespace sb::json
