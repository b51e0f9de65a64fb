#include "http/form.hpp"

#include "core/percent.hpp"
#include "core/strings.hpp"

namespace sb::http {

namespace {


/// The value of parameter `key` in a header value such as
/// `form-data; name="data"` or `multipart/form-data; boundary=xyz`.
std::optional<std::string> header_parameter(std::string_view value,
                                            std::string_view key) {
  size_t pos = 0;
  while ((pos = value.find(';', pos)) != std::string_view::npos) {
    ++pos;
    auto rest = value.substr(pos);
    auto eq = rest.find('=');
    if (eq == std::string_view::npos)
      return std::nullopt;
    auto name = sb::trim(rest.substr(0, eq));
    auto v = rest.substr(eq + 1);
    std::string out;
    if (!v.empty() && v.front() == '"') {
      auto close = v.find('"', 1);
      if (close == std::string_view::npos)
        return std::nullopt;
      out = std::string{v.substr(1, close - 1)};
    } else {
      out = std::string{sb::trim(v.substr(0, v.find(';')))};
    }
    if (sb::iequals(name, key))
      return out;
  }
  return std::nullopt;
}

} // namespace


field_list parse_query(std::string_view query) {
  field_list out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{}
                                          : query.substr(amp + 1);
    if (piece.empty())
      continue;
    auto eq = piece.find('=');
    auto name = piece.substr(0, eq);
    auto value = eq == std::string_view::npos ? std::string_view{}
                                              : piece.substr(eq + 1);
    out.emplace_back(percent_decode(name, true), percent_decode(value, true));
  }
  return out;
}

std::optional<std::string> multipart_field(std::string_view content_type,
                                           std::string_view body,
                                           std::string_view name) {
  auto semi = content_type.find(';');
  if (!sb::iequals(sb::trim(content_type.substr(0, semi)),
                   "multipart/form-data"))
    return std::nullopt;
  auto boundary = header_parameter(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 200)
    return std::nullopt;
  const std::string delimiter = "--" + *boundary;
  auto at = body.find(delimiter);
  while (at != std::string_view::npos) {
    auto part_start = at + delimiter.size();
    if (body.substr(part_start, 2) == "--")
      return std::nullopt; // the closing delimiter
    if (body.substr(part_start, 2) != "\r\n")
      return std::nullopt;
    part_start += 2;
    auto head_end = body.find("\r\n\r\n", part_start);
    if (head_end == std::string_view::npos)
      return std::nullopt;
    auto next = body.find("\r\n" + delimiter, head_end + 4);
    if (next == std::string_view::npos)
      return std::nullopt;
    auto head = body.substr(part_start, head_end - part_start);
    // Part headers, one per line; only Content-Disposition matters here.
    bool wanted = false;
    while (!head.empty()) {
      auto eol = head.find("\r\n");
      auto line = head.substr(0, eol);
      head = eol == std::string_view::npos ? std::string_view{}
                                           : head.substr(eol + 2);
      auto colon = line.find(':');
      if (colon == std::string_view::npos)
        continue;
      if (!sb::iequals(sb::trim(line.substr(0, colon)), "Content-Disposition"))
        continue;
      auto field = header_parameter(line.substr(colon + 1), "name");
      wanted = field && *field == name;
    }
    if (wanted)
      return std::string{body.substr(head_end + 4, next - head_end - 4)};
    at = next + 2;
  }
  return std::nullopt;
}

} // namespace sb::http
