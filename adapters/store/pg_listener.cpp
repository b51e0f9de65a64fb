#include "adapters/store/pg_listener.hpp"

#include <poll.h>

#include <algorithm>
#include <chrono>

#include <libpq-fe.h>

#include "core/db_url.hpp"
#include "core/log.hpp"

namespace sb::store {

namespace {

constexpr const char* log_name = "pg_listener";
constexpr int poll_slice_ms = 200;

struct connection_closer {
  void operator()(PGconn* c) const noexcept {
    PQfinish(c);
  }
};
using connection = std::unique_ptr<PGconn, connection_closer>;

/// Opens a connection in LISTEN; null (logged) on failure.
connection open_listening(const std::string& url) {
  connection conn{PQconnectdb(url.c_str())};
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    log::warning(log_name, "cannot connect for LISTEN; polling meanwhile",
                 {{"url", redact_url(url)},
                  {"error", conn ? PQerrorMessage(conn.get()) : "no memory"}});
    return nullptr;
  }
  auto* res = PQexec(conn.get(), "LISTEN switchboard_events");
  bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  PQclear(res);
  if (!ok) {
    log::warning(log_name, "LISTEN failed; polling meanwhile",
                 {{"error", PQerrorMessage(conn.get())}});
    return nullptr;
  }
  return conn;
}

} // namespace

pg_listener::pg_listener(std::string url, shared_event_signal signal)
    : url_(std::move(url)), signal_(std::move(signal)) {
  thread_ = std::thread{[this] { run(); }};
}

pg_listener::~pg_listener() {
  stop_ = true;
  if (thread_.joinable())
    thread_.join();
}

void pg_listener::run() {
  auto backoff = std::chrono::milliseconds{1000};
  while (!stop_) {
    auto conn = open_listening(url_);
    if (!conn) {
      // Sleep in slices so that a stop is quick.
      for (auto slept = std::chrono::milliseconds{0};
           slept < backoff && !stop_; slept += std::chrono::milliseconds{poll_slice_ms})
        std::this_thread::sleep_for(std::chrono::milliseconds{poll_slice_ms});
      backoff = std::min(backoff * 2, std::chrono::milliseconds{30000});
      continue;
    }
    backoff = std::chrono::milliseconds{1000};
    listening_ = true;
    signal_->ring();
    while (!stop_) {
      pollfd fd{PQsocket(conn.get()), POLLIN, 0};
      if (fd.fd < 0)
        break;
      auto n = ::poll(&fd, 1, poll_slice_ms);
      if (n < 0)
        continue;
      if (n == 0)
        continue;
      if (PQconsumeInput(conn.get()) == 0) {
        log::warning(log_name, "LISTEN connection lost; reconnecting",
                     {{"error", PQerrorMessage(conn.get())}});
        break;
      }
      bool rung = false;
      while (PGnotify* note = PQnotifies(conn.get())) {
        PQfreemem(note);
        rung = true;
      }
      if (rung)
        signal_->ring();
    }
    listening_ = false;
  }
}

} // namespace sb::store
