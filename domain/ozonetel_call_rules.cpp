// The call book's small rules: disposition names, replies, numbers,
// delays, notices.

#include <algorithm>
#include <cctype>
#include <utility>

#include "core/strings.hpp"
#include "domain/ozonetel_call_book.hpp"

namespace sb {

namespace {

// The dispositions the CRM speaks; campaigns name theirs.
constexpr const char* internal_dispositions[] = {
    "APPOINTMENT_BOOKED", "FOLLOW_UP_SCHEDULED", "INFO_PROVIDED", "NO_ANSWER",
    "WRONG_NUMBER",       "CALLBACK_REQUESTED",  "NOT_INTERESTED"};

} // namespace

call_notice make_notice(call_notice_kind kind, std::string ucid,
                        std::string detail, std::string extra) {
  call_notice n;
  n.kind = kind;
  n.ucid = std::move(ucid);
  n.detail = std::move(detail);
  n.extra = std::move(extra);
  return n;
}

// -- small rules --------------------------------------------------------------

caf::optional<std::string> campaign_disposition(const ozonetel_config& cfg,
                                                const std::string& name) {
  auto i = cfg.disposition_map.find(name);
  if (i == cfg.disposition_map.end())
    i = cfg.disposition_map.find(upper(name));
  if (i != cfg.disposition_map.end())
    return i->second;
  auto ours = upper(name);
  for (auto known : internal_dispositions)
    if (ours == known)
      return cfg.default_disposition;
  for (auto& [internal, campaign] : cfg.disposition_map)
    if (campaign == name)
      return campaign;
  if (name == cfg.default_disposition)
    return name;
  return caf::none;
}

ucid_reply make_reply(ucid_reply_code code, std::string message,
                      const ucid_call* call) {
  ucid_reply r;
  r.code = code;
  r.message = std::move(message);
  if (call) {
    r.ucid = call->ucid;
    r.state = to_string(call->phase);
    r.disposition = call->campaign_disposition;
  }
  return r;
}

ucid_reply_code failure_code(const ozonetel_answer& answer) {
  return answer.outcome == ozonetel_outcome::unavailable
                 || answer.outcome == ozonetel_outcome::rate_limited
             ? ucid_reply_code::unavailable
             : ucid_reply_code::upstream;
}

std::string normalized_number(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))
        || (c == '+' && out.empty()))
      out.push_back(c);
  }
  return out;
}

std::chrono::milliseconds doubling_delay(std::chrono::milliseconds initial,
                                         std::chrono::milliseconds max,
                                         int attempt) {
  auto delay = initial;
  for (int i = 1; i < attempt && delay < max; ++i)
    delay *= 2;
  return std::min(delay, max);
}

} // namespace sb
