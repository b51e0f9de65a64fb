#include "http/engine.hpp"

#include <sys/resource.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <caf/sec.hpp>

#include "core/log.hpp"
#include "http/session.hpp"

namespace sb::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

size_t raise_open_file_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  return static_cast<size_t>(lim.rlim_cur);
}

namespace {

std::string address_text(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

} // namespace

caf::expected<uint16_t> engine::state::start(const std::string& host,
                                             uint16_t port) {
  if (started)
    return acceptor->local_endpoint().port();
  error_code ec;
  tcp::endpoint endpoint;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint{address, port};
  } else {
    tcp::resolver resolver{ioc};
    auto found = resolver.resolve(host, std::to_string(port), ec);
    if (ec || found.empty())
      return caf::make_error(caf::sec::invalid_argument,
                             "http.listen: cannot resolve host '" + host
                                 + "': " + ec.message());
    endpoint = found.begin()->endpoint();
  }
  acceptor.emplace(asio::make_strand(ioc));
  acceptor->open(endpoint.protocol(), ec);
  // SO_REUSEADDR only lets a restart bind over connections in TIME_WAIT; on
  // Linux it never lets two processes listen on one port (SO_REUSEPORT
  // would, and is deliberately not set).
  if (!ec)
    acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec)
    acceptor->bind(endpoint, ec);
  if (!ec)
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    auto where = address_text(endpoint.address().to_string(), port);
    acceptor.reset();
    if (ec == asio::error::address_in_use)
      return caf::make_error(caf::sec::cannot_open_port,
                             "address already in use: " + where);
    return caf::make_error(caf::sec::cannot_open_port,
                           "cannot listen on " + where + ": " + ec.message());
  }
  raise_open_file_limit();
  accept_backoff.emplace(acceptor->get_executor());
  pool.emplace(std::max(1u, limits.handler_threads));
  accept();
  for (unsigned i = 0; i < std::max(1u, limits.io_threads); ++i)
    threads.emplace_back([this] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& ex) {
          log::error("http_server", "I/O handler failed",
                     {{"what", ex.what()}});
        }
      }
    });
  started = true;
  return acceptor->local_endpoint().port();
}

void engine::state::accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](const error_code& ec,
                                                        tcp::socket sock) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open())
      return;
    if (ec) {
      // Out of file descriptors: retry shortly instead of spinning.
      log::warning("http_server", "accept failed", {{"error", ec.message()}});
      accept_backoff->expires_after(std::chrono::milliseconds(100));
      accept_backoff->async_wait([this](const error_code& e) {
        if (!e)
          accept();
      });
      return;
    }
    error_code e;
    auto remote = sock.remote_endpoint(e);
    if (!e) {
      sock.set_option(tcp::no_delay(true), e);
      auto s = std::make_shared<detail::session>(*this, std::move(sock),
                                                 remote.address().to_string());
      if (registry.admit(s))
        s->start();
      else
        s->refuse();
    }
    accept();
  });
}

void engine::state::stop() {
  if (!started || stopped.exchange(true))
    return;
  {
    std::lock_guard<std::mutex> guard{life->mutex};
    life->running = false;
  }
  asio::post(acceptor->get_executor(), [this] {
    error_code ec;
    acceptor->close(ec);
    accept_backoff->cancel();
  });
  for (auto& s : registry.all())
    s->close_soon();
  // Handlers in flight finish; their answers go nowhere.
  pool->join();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!ioc.stopped() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ioc.stop();
  for (auto& t : threads)
    t.join();
  threads.clear();
}

// -- engine ------------------------------------------------------------------

engine::engine(const router& routes, server_limits limits)
    : state_(std::make_shared<state>(routes, limits)) {}

engine::~engine() {
  stop();
}

const server_limits& engine::limits() const noexcept {
  return state_->limits;
}

engine_stats engine::stats() const {
  return state_->registry.stats();
}

caf::expected<uint16_t> engine::start(const std::string& host, uint16_t port) {
  return state_->start(host, port);
}

void engine::stop() {
  state_->stop();
}

} // namespace sb::http
