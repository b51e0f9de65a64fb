#pragma once

// A small pool of database connections for the HTTP API's reads, so a GET
// never queues behind the comms-log writer's transactions (the writer owns its
// own session). Connections open lazily and a connection that fails a ping
// after an error is dropped, so the pool heals after a database restart.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "adapters/store/database.hpp"
#include "core/error.hpp"

namespace sb {

class http_read_pool {
public:
  /// `url` as sb::store::database::open takes it; at most `size`
  /// connections.
  http_read_pool(std::string url, size_t size);
  ~http_read_pool();

  http_read_pool(const http_read_pool&) = delete;
  http_read_pool& operator=(const http_read_pool&) = delete;

  /// A connection on loan; goes back to the pool when destroyed.
  class lease {
  public:
    lease(lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)),
          db_(std::move(other.db_)) {}
    lease& operator=(lease&&) = delete;
    ~lease();

    store::database& operator*() const noexcept {
      return *db_;
    }
    store::database* operator->() const noexcept {
      return db_.get();
    }

    /// The connection is broken: close it instead of returning it.
    void discard() noexcept {
      db_.reset();
    }

  private:
    friend class http_read_pool;
    lease(http_read_pool* pool, std::unique_ptr<store::database> db)
        : pool_(pool), db_(std::move(db)) {}
    http_read_pool* pool_;
    std::unique_ptr<store::database> db_;
  };

  /// Borrows a connection, opening one when none is idle and the pool is not
  /// full; waits up to `wait` for a busy one otherwise.
  caf::expected<lease> acquire(std::chrono::milliseconds wait);

  /// Runs `f(store::database&)` (returning caf::expected<T>) on a borrowed
  /// connection; after an error the connection is kept only if it still
  /// answers a ping.
  template <class F>
  auto run(F&& f, std::chrono::milliseconds wait)
      -> decltype(f(std::declval<store::database&>())) {
    auto l = acquire(wait);
    if (!l)
      return std::move(l.error());
    auto result = f(**l);
    if (!result && !(*l)->ping())
      l->discard();
    return result;
  }

  size_t size() const noexcept {
    return size_;
  }

private:
  void give_back(std::unique_ptr<store::database> db);

  std::string url_;
  size_t size_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<store::database>> idle_;
  /// Connections open, idle or on loan, plus ones being opened.
  size_t open_ = 0;
};

} // namespace sb
