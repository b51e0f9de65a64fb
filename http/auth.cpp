#include "http/auth.hpp"

#include <cstddef>

#include "adapters/ozonetel/agent_token.hpp"

namespace sb::http {

const char* to_string(scope x) noexcept {
  switch (x) {
    case scope::none:
      return "none";
    case scope::read:
      return "read";
    default:
      return "write";
  }
}

bool constant_time_equals(std::string_view a, std::string_view b) noexcept {
  // Length is not secret (tokens have a fixed format); the content is. Every
  // byte of the longer input is visited whatever the mismatch position.
  size_t n = a.size() > b.size() ? a.size() : b.size();
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string_view bearer_token(std::string_view authorization) noexcept {
  // RFC 6750: the scheme is case-insensitive, one or more spaces follow.
  constexpr std::string_view scheme = "bearer";
  if (authorization.size() <= scheme.size())
    return {};
  for (size_t i = 0; i < scheme.size(); ++i) {
    auto c = static_cast<unsigned char>(authorization[i]);
    if ((c | 0x20) != static_cast<unsigned char>(scheme[i]))
      return {};
  }
  auto rest = authorization.substr(scheme.size());
  if (rest.front() != ' ')
    return {};
  while (!rest.empty() && rest.front() == ' ')
    rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t'))
    rest.remove_suffix(1);
  return rest;
}

authenticator::authenticator()
    : tokens_(std::make_shared<api_token_holder>()),
      agents_(std::make_shared<agent_tokens_ptr>()) {}

authenticator::authenticator(std::string token, std::string read_token)
    : tokens_(std::make_shared<api_token_holder>(
        api_tokens{std::move(token), std::move(read_token)})),
      agents_(std::make_shared<agent_tokens_ptr>()) {}

void authenticator::set_agent_tokens(agent_tokens_ptr tokens) {
  // Set once before the server listens; copies share the slot.
  *agents_ = std::move(tokens);
}

std::optional<std::string>
authenticator::agent_of(std::string_view token) const {
  auto table = *agents_;
  if (!table || token.empty() || token.size() > 256)
    return std::nullopt;
  // Only hashes are held: the lookup compares digests, never the token.
  return table->find(ozonetel::token_hash(token));
}

std::string authenticator::role_of(std::string_view token) const {
  auto current = tokens_->get();
  bool full = !current->token.empty()
              && constant_time_equals(token, current->token);
  bool read = !current->read_token.empty()
              && constant_time_equals(token, current->read_token);
  return full ? "write" : read ? "read" : "";
}

void authenticator::set(std::string token, std::string read_token) {
  tokens_->set(api_tokens{std::move(token), std::move(read_token)});
}

bool authenticator::enabled() const {
  auto t = tokens_->get();
  return !t->token.empty() || !t->read_token.empty();
}

auth_outcome authenticator::check(std::string_view authorization,
                                  scope needed) const {
  if (needed == scope::none)
    return auth_outcome::granted;
  if (!enabled())
    return auth_outcome::disabled;
  auto token = bearer_token(authorization);
  if (token.empty())
    return auth_outcome::missing;
  return check_token(token, needed);
}

auth_outcome authenticator::check_token(std::string_view token,
                                        scope needed) const {
  if (needed == scope::none)
    return auth_outcome::granted;
  auto current = tokens_->get();
  if (current->token.empty() && current->read_token.empty())
    return auth_outcome::disabled;
  if (token.empty())
    return auth_outcome::missing;
  // Both comparisons always run, so timing does not reveal which token (if
  // any) matched.
  bool full = !current->token.empty()
              && constant_time_equals(token, current->token);
  bool read = !current->read_token.empty()
              && constant_time_equals(token, current->read_token);
  if (full)
    return auth_outcome::granted;
  if (read)
    return needed == scope::read ? auth_outcome::granted
                                 : auth_outcome::forbidden;
  return auth_outcome::invalid;
}

} // namespace sb::http
