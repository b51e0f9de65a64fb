#pragma once

// The HTTP API's bearer tokens as one value that SIGHUP can swap while
// requests are being checked: readers take a snapshot (a shared_ptr to an
// immutable pair), the reload publishes a new one. A request checked
// against the old snapshot finishes with it; the next one sees the new.

#include <memory>
#include <mutex>
#include <string>

namespace sb {

struct api_tokens {
  /// Read + write scope (http.token) — secret.
  std::string token;
  /// Read scope only (http.read_token) — secret.
  std::string read_token;
};

class api_token_holder {
public:
  api_token_holder() : current_(std::make_shared<const api_tokens>()) {}

  explicit api_token_holder(api_tokens initial)
      : current_(std::make_shared<const api_tokens>(std::move(initial))) {}

  std::shared_ptr<const api_tokens> get() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return current_;
  }

  void set(api_tokens next) {
    auto fresh = std::make_shared<const api_tokens>(std::move(next));
    std::lock_guard<std::mutex> guard{mutex_};
    current_ = std::move(fresh);
  }

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const api_tokens> current_;
};

} // namespace sb
