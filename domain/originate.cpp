#include "domain/originate.hpp"

#include <cmath>

#include "core/strings.hpp"

namespace sb {

namespace {

/// A name as it may stand inside the CallerID's quotes.
std::string display_name(const std::string& name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name)
    if (c != '"' && c != '<' && c != '>' && c != '\\' && c != '\r'
        && c != '\n')
      out.push_back(c);
  return out;
}

} // namespace

std::string fill_template(
    std::string text,
    const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [key, value] : values)
    text = replace_all(std::move(text), "{" + key + "}", value);
  return text;
}

std::vector<std::pair<std::string, std::string>>
originate_fields(const pbx_config& pbx, const originate_request& req) {
  auto name = display_name(req.customer_name);
  if (name.empty())
    name = req.phone_number;
  std::vector<std::pair<std::string, std::string>> values{
      {"extension", req.extension},
      {"phone_number", req.phone_number},
      {"name", name}};
  auto timeout_ms = static_cast<long long>(
      std::llround(pbx.originate_ring_seconds * 1000));
  return {
      {"Channel", fill_template(pbx.originate_channel, values)},
      {"Context", pbx.originate_context},
      {"Exten", req.phone_number},
      {"Priority", "1"},
      {"Timeout", std::to_string(timeout_ms)},
      {"CallerID", fill_template(pbx.originate_caller_id, values)},
      {"Async", "true"},
      {"Variable", "SWITCHBOARD_REQUEST_ID=" + req.request_id},
  };
}

} // namespace sb
