#include "core/error.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace sb {

namespace {

constexpr const char* names[] = {
    "none",        "database_unavailable",
    "rejected",    "not_found",
    "conflict",    "invalid",
    "upstream",    "timeout",
    "unavailable",
};

constexpr auto sb_category = caf::atom("sb");

} // namespace

const char* to_string(ec x) noexcept {
  auto i = static_cast<size_t>(x);
  return i < std::size(names) ? names[i] : "unknown";
}

bool from_string(std::string_view name, ec& x) noexcept {
  for (size_t i = 0; i < std::size(names); ++i)
    if (name == names[i]) {
      x = static_cast<ec>(i);
      return true;
    }
  return false;
}

ec code_of(const caf::error& err) noexcept {
  if (!err || err.category() != sb_category)
    return ec::none;
  return static_cast<ec>(err.code());
}

namespace {

// The context of a make_error(code, "text") is a message holding one string.
std::string context_text(const caf::error& err) {
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return {};
}

} // namespace

std::string describe(const caf::error& err) {
  if (!err)
    return "none";
  auto text = context_text(err);
  if (!text.empty())
    return text;
  if (err.category() == sb_category)
    return to_string(static_cast<ec>(err.code()));
  if (err.category() == caf::atom("system"))
    return caf::to_string(static_cast<caf::sec>(err.code()));
  return caf::to_string(err);
}

void add_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(sb_category,
                         [](uint8_t code, caf::atom_value,
                            const caf::message& ctx) -> std::string {
                           std::string out = "sb::";
                           out += to_string(static_cast<ec>(code));
                           if (ctx.size() == 1
                               && ctx.match_element<std::string>(0)) {
                             out += ": ";
                             out += ctx.get_as<std::string>(0);
                           }
                           return out;
                         });
}

} // namespace sb
