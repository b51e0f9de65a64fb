#include "http/json.hpp"
#include "adapters/json/row_json.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"

#include <cctype>
#include <ctime>

#include <rapidjson/error/en.h>

namespace sb::http {

namespace {

void write_string(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_key(json_writer& w, const char* key) {
  w.Key(key);
}

void write_optional_text(json_writer& w, const char* key,
                         const std::string& value) {
  write_key(w, key);
  if (value.empty())
    w.Null();
  else
    write_string(w, value);
}

void write_time(json_writer& w, const char* key, unix_micros t) {
  write_key(w, key);
  if (t == 0)
    w.Null();
  else
    write_string(w, iso8601_utc(t));
}

} // namespace

std::string error_body(std::string_view code, std::string_view message) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  write_key(w, "error");
  write_string(w, code);
  write_key(w, "message");
  write_string(w, message);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

void send_json(response& res, int status, std::string body) {
  res.status = status;
  res.body = std::move(body);
  res.set_header("Content-Type", "application/json");
}

void send_error(response& res, int status, std::string_view code,
                std::string_view message) {
  send_json(res, status, error_body(code, message));
}

bool has_media_type(const request& req, std::string_view media_type) {
  if (!req.has_header("Content-Type"))
    return false;
  auto value = req.header("Content-Type");
  std::string_view v{value};
  if (auto semi = v.find(';'); semi != std::string_view::npos)
    v = v.substr(0, semi);
  v = trim(v);
  return iequals(v, media_type);
}

bool parse_json_object(const request& req, response& res,
                       rapidjson::Document& out) {
  constexpr unsigned flags
      = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  out.Parse<flags>(req.body.data(), req.body.size());
  if (out.HasParseError()) {
    std::string message = "request body is not valid JSON: ";
    message += rapidjson::GetParseError_En(out.GetParseError());
    message += " (at byte ";
    message += std::to_string(out.GetErrorOffset());
    message += ")";
    send_error(res, 400, "invalid_json", message);
    return false;
  }
  if (!out.IsObject()) {
    send_error(res, 400, "invalid_json", "request body must be a JSON object");
    return false;
  }
  return true;
}

const rapidjson::Value* field_reader::member(const char* name, bool required) {
  if (!ok())
    return nullptr;
  auto i = object_.FindMember(name);
  if (i == object_.MemberEnd() || i->value.IsNull()) {
    if (required)
      fail(name, "is required");
    return nullptr;
  }
  return &i->value;
}

std::optional<std::string> field_reader::string(const char* name, bool required,
                                                size_t max_length) {
  auto v = member(name, required);
  if (v == nullptr)
    return std::nullopt;
  if (!v->IsString()) {
    fail(name, "must be a string");
    return std::nullopt;
  }
  if (v->GetStringLength() > max_length) {
    fail(name, "must be at most " + std::to_string(max_length) + " bytes");
    return std::nullopt;
  }
  return std::string{v->GetString(), v->GetStringLength()};
}

std::optional<int64_t> field_reader::integer(const char* name, bool required,
                                             int64_t min, int64_t max) {
  auto v = member(name, required);
  if (v == nullptr)
    return std::nullopt;
  if (!v->IsInt64()) {
    // IsInt64 is false for 1.5, 1e3, "12", true and for out-of-range values.
    fail(name, "must be an integer");
    return std::nullopt;
  }
  auto x = v->GetInt64();
  if (x < min || x > max) {
    fail(name, "must be between " + std::to_string(min) + " and "
                   + std::to_string(max));
    return std::nullopt;
  }
  return x;
}

void field_reader::fail(const char* name, std::string message) {
  if (!ok())
    return;
  field_ = name;
  problem_ = std::move(message);
}

void field_reader::send(response& res) const {
  send_error(res, 422, "invalid_field", field_ + " " + problem_);
}

void write_json(json_writer& w, const comms_entry& x) {
  json::write_entry(w, x);
}

void write_json(json_writer& w, const customer& x) {
  w.StartObject();
  write_key(w, "id");
  w.Int64(x.id);
  write_key(w, "name");
  write_string(w, x.name);
  write_key(w, "phone");
  write_string(w, x.phone);
  write_optional_text(w, "phone_e164", x.phone_e164);
  write_optional_text(w, "external_id", x.external_id);
  write_key(w, "created_at");
  write_string(w, x.created_at);
  write_key(w, "updated_at");
  write_string(w, x.updated_at.empty() ? x.created_at : x.updated_at);
  w.EndObject();
}

void write_json(json_writer& w, const live_call& x) {
  w.StartObject();
  write_key(w, "source");
  write_string(w, x.source);
  write_key(w, "id");
  write_string(w, x.id);
  write_key(w, "origin");
  write_string(w, x.origin);
  write_key(w, "direction");
  write_string(w, to_string(x.direction));
  write_key(w, "state");
  write_string(w, to_string(x.state));
  write_optional_text(w, "external_number", x.external_number);
  write_optional_text(w, "extension", x.extension);
  write_time(w, "started_at", x.started_at);
  write_time(w, "answered_at", x.answered_at);
  write_key(w, "customer");
  if (x.customer_id) {
    w.StartObject();
    write_key(w, "id");
    w.Int64(*x.customer_id);
    write_key(w, "name");
    write_string(w, x.customer_name);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
}

void write_json(json_writer& w, const connection_status& x) {
  w.StartObject();
  write_key(w, "name");
  write_string(w, x.pbx);
  write_key(w, "state");
  write_string(w, to_string(x.state));
  write_optional_text(w, "last_error", x.last_error);
  write_key(w, "restarts");
  w.Int64(x.restarts);
  write_time(w, "since", x.since);
  w.EndObject();
}

} // namespace sb::http
