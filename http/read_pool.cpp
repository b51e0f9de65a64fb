#include "http/read_pool.hpp"
#include "core/error.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace sb {

http_read_pool::http_read_pool(std::string url, size_t size)
    : url_(std::move(url)), size_(size == 0 ? 1 : size) {}

http_read_pool::~http_read_pool() = default;

http_read_pool::lease::~lease() {
  if (pool_ != nullptr)
    pool_->give_back(std::move(db_));
}

void http_read_pool::give_back(std::unique_ptr<store::database> db) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (db)
      idle_.push_back(std::move(db));
    else
      --open_;
  }
  cv_.notify_one();
}

caf::expected<http_read_pool::lease>
http_read_pool::acquire(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> guard{mtx_};
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    if (!idle_.empty()) {
      auto db = std::move(idle_.back());
      idle_.pop_back();
      return lease{this, std::move(db)};
    }
    if (open_ < size_) {
      ++open_;
      guard.unlock();
      auto db = store::database::open(url_);
      if (!db) {
        give_back(nullptr);
        return std::move(db.error());
      }
      return lease{this, std::move(*db)};
    }
    if (cv_.wait_until(guard, deadline) == std::cv_status::timeout
        && idle_.empty() && open_ >= size_)
      return caf::make_error(caf::sec::request_timeout,
                             "all database read connections are busy");
  }
}

} // namespace sb
