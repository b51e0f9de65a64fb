#pragma once

// Agent tokens as the HTTP authenticator checks them: the SHA-256 of each
// live token and the agent it acts for. Only hashes are held (the tokens
// are shown once, when issued). Shared by the authenticator (reads, on HTTP
// threads) and ucid_calls (writes, when agents and tokens change).

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace sb {

class agent_token_table {
public:
  /// The agent whose token hashes to `hash`, if any.
  std::optional<std::string> find(const std::string& hash) const {
    std::lock_guard<std::mutex> guard{mutex_};
    auto i = by_hash_.find(hash);
    if (i == by_hash_.end())
      return std::nullopt;
    return i->second;
  }

  /// The agent's token is now the one hashing to `hash` (empty = none).
  void set(const std::string& agent_id, const std::string& hash) {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto i = by_hash_.begin(); i != by_hash_.end();)
      i = i->second == agent_id ? by_hash_.erase(i) : std::next(i);
    if (!hash.empty())
      by_hash_[hash] = agent_id;
  }

  size_t size() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return by_hash_.size();
  }

private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> by_hash_;
};

using agent_tokens_ptr = std::shared_ptr<agent_token_table>;

} // namespace sb
