#pragma once

// JSON in and out of the HTTP API (RapidJSON): the error body every endpoint
// uses, strict request-body parsing, typed field reading that names the field
// to fix, and the JSON shape of the domain rows.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/message.hpp"
#include "messages/calls.hpp"
#include "messages/comms.hpp"
#include "messages/connection.hpp"

namespace sb::http {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// `{"error": code, "message": message}`.
std::string error_body(std::string_view code, std::string_view message);

/// Sets status, `Content-Type: application/json` and the body.
void send_json(response& res, int status, std::string body);

/// Sends `error_body(code, message)` with `status`.
void send_error(response& res, int status, std::string_view code,
                std::string_view message);

/// True when the request's Content-Type is `media_type` (parameters such as
/// `; charset=utf-8` ignored, case-insensitive).
bool has_media_type(const request& req, std::string_view media_type);

/// Parses the body as one JSON object (iteratively, so deep nesting cannot
/// exhaust the stack; invalid UTF-8 rejected). On failure sends 400
/// `invalid_json` saying where it broke and returns false.
bool parse_json_object(const request& req, response& res,
                       rapidjson::Document& out);

/// Reads typed fields of a JSON object and keeps the first problem, so a
/// handler validates everything and then answers one clear 422.
class field_reader {
public:
  explicit field_reader(const rapidjson::Value& object) : object_(object) {}

  /// A string; absent or null is a problem only when `required`. Strings
  /// longer than `max_length` bytes are rejected.
  std::optional<std::string> string(const char* name, bool required,
                                    size_t max_length = 4096);

  /// An integer within [min, max] (JSON numbers with a fraction, strings,
  /// booleans are rejected).
  std::optional<int64_t> integer(const char* name, bool required,
                                 int64_t min = INT64_MIN,
                                 int64_t max = INT64_MAX);

  /// Records a problem found by the caller (e.g. a value outside an enum).
  void fail(const char* name, std::string message);

  bool ok() const noexcept {
    return field_.empty();
  }

  /// The first offending field and what is wrong with it.
  const std::string& field() const noexcept {
    return field_;
  }
  const std::string& problem() const noexcept {
    return problem_;
  }

  /// Sends 422 `invalid_field` naming the first problem.
  void send(response& res) const;

private:
  const rapidjson::Value* member(const char* name, bool required);

  const rapidjson::Value& object_;
  std::string field_;
  std::string problem_;
};

// -- JSON shape of the domain rows (docs/openapi.yaml, components) ---------

void write_json(json_writer& w, const comms_entry& x);
void write_json(json_writer& w, const customer& x);
/// `started_at` / `answered_at` as ISO-8601 UTC (null when 0).
void write_json(json_writer& w, const live_call& x);
void write_json(json_writer& w, const connection_status& x);

/// One value rendered on its own (the body of a 201 / 200).
template <class T>
std::string to_json(const T& x) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  write_json(w, x);
  return {buf.GetString(), buf.GetSize()};
}

} // namespace sb::http
