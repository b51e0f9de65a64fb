#include "http/message.hpp"

#include "core/strings.hpp"

namespace sb::http {

namespace {

const std::string* find_field(const field_list& fields, std::string_view name,
                              bool case_insensitive) {
  for (auto& [k, v] : fields)
    if (case_insensitive ? sb::iequals(k, name) : k == name)
      return &v;
  return nullptr;
}

} // namespace

std::string request::header(std::string_view name) const {
  auto* v = find_field(headers, name, true);
  return v != nullptr ? *v : std::string{};
}

bool request::has_header(std::string_view name) const {
  return find_field(headers, name, true) != nullptr;
}

size_t request::header_count(std::string_view name) const {
  size_t n = 0;
  for (auto& field : headers)
    if (sb::iequals(field.first, name))
      ++n;
  return n;
}

std::string request::param(std::string_view name) const {
  auto* v = find_field(query, name, false);
  return v != nullptr ? *v : std::string{};
}

bool request::has_param(std::string_view name) const {
  return find_field(query, name, false) != nullptr;
}

std::string request::path_param(size_t index) const {
  if (index == 0 || index > path_params.size())
    return {};
  return path_params[index - 1];
}

void response::set_header(std::string name, std::string value) {
  for (auto& [k, v] : headers)
    if (sb::iequals(k, name)) {
      v = std::move(value);
      return;
    }
  headers.emplace_back(std::move(name), std::move(value));
}

std::string response::header(std::string_view name) const {
  auto* v = find_field(headers, name, true);
  return v != nullptr ? *v : std::string{};
}

bool response::has_header(std::string_view name) const {
  return find_field(headers, name, true) != nullptr;
}

void response::set_content(std::string content, std::string content_type) {
  body = std::move(content);
  set_header("Content-Type", std::move(content_type));
}

void response::start_stream(std::string content_type, stream_opener open,
                            size_t buffer_bytes) {
  body.clear();
  set_header("Content-Type", std::move(content_type));
  set_header("Cache-Control", "no-store");
  opener = std::move(open);
  stream_buffer_bytes = buffer_bytes;
}

} // namespace sb::http
