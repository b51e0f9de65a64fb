#include "http/session.hpp"

#include <cstdio>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include "core/strings.hpp"
#include "http/form.hpp"
#include "http/json.hpp"

namespace sb::http::detail {

namespace bhttp = beast::http;
using error_code = boost::system::error_code;

namespace {

/// What a lingering close may still read (and discard) so that the client
/// sees our error answer instead of a reset.
constexpr size_t max_drain_bytes = 8 * 1024 * 1024;
constexpr size_t scratch_bytes = 4096;
constexpr std::chrono::milliseconds linger_after_error{1000};
constexpr std::chrono::milliseconds linger_after_close{200};

std::string_view view(beast::string_view s) {
  return {s.data(), s.size()};
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
      .count();
}

std::string whole_seconds(std::chrono::milliseconds d) {
  return std::to_string((d.count() + 999) / 1000);
}

/// A response head. Header values set by handlers never carry CR or LF into
/// the stream (no response splitting).
std::string serialize_head(const response& res, size_t content_length,
                           bool keep, bool chunked, unsigned version) {
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " ";
  auto reason = bhttp::obsolete_reason(bhttp::int_to_status(res.status));
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (auto& [name, value] : res.headers) {
    if (sb::iequals(name, "Content-Length") || sb::iequals(name, "Connection")
        || sb::iequals(name, "Transfer-Encoding"))
      continue;
    out += name;
    out += ": ";
    for (char c : value)
      if (c != '\r' && c != '\n')
        out.push_back(c);
    out += "\r\n";
  }
  if (chunked)
    out += "Transfer-Encoding: chunked\r\n";
  else
    out += "Content-Length: " + std::to_string(content_length) + "\r\n";
  if (!keep)
    out += "Connection: close\r\n";
  else if (version < 11)
    out += "Connection: keep-alive\r\n";
  out += "\r\n";
  return out;
}

request request_of(bhttp::request<bhttp::string_body>&& msg,
                   const std::string& address) {
  request req;
  req.method = std::string{view(msg.method_string())};
  req.target = std::string{view(msg.target())};
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos)
    req.query = parse_query(std::string_view{req.target}.substr(q + 1));
  for (auto& field : msg)
    req.headers.emplace_back(std::string{view(field.name_string())},
                             std::string{view(field.value())});
  req.body = std::move(msg.body());
  req.remote_address = address;
  return req;
}

} // namespace

// -- registry -----------------------------------------------------------------

bool registry::admit(const std::shared_ptr<session>& s) {
  std::vector<std::shared_ptr<session>> hold;
  std::vector<std::shared_ptr<session>> victims;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    std::shared_ptr<session> victim;
    if (counted_ >= limits_.max_connections) {
      if (!evict_oldest_idle(nullptr, hold, victim)) {
        ++refused_;
        return false;
      }
      victims.push_back(victim);
    }
    if (per_address_[s->address()] >= limits_.max_connections_per_client) {
      if (!evict_oldest_idle(&s->address(), hold, victim)) {
        ++refused_;
        return false;
      }
      victims.push_back(victim);
    }
    sessions_.push_back(s);
    s->slot = std::prev(sessions_.end());
    s->registered = true;
    s->counted = true;
    ++counted_;
    ++per_address_[s->address()];
  }
  for (auto& v : victims)
    v->close_soon();
  return true;
}

bool registry::evict_oldest_idle(const std::string* address,
                                 std::vector<std::shared_ptr<session>>& hold,
                                 std::shared_ptr<session>& victim) {
  for (auto& w : sessions_) {
    auto sp = w.lock();
    if (!sp)
      continue;
    hold.push_back(sp);
    if (!sp->counted || sp->current() != phase::idle
        || (address != nullptr && sp->address() != *address))
      continue;
    sp->counted = false;
    --counted_;
    if (--per_address_[sp->address()] == 0)
      per_address_.erase(sp->address());
    ++evicted_;
    victim = sp;
    return true;
  }
  return false;
}

void registry::remove(session& s) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (!s.registered)
    return;
  sessions_.erase(s.slot);
  s.registered = false;
  if (s.counted) {
    s.counted = false;
    --counted_;
    if (--per_address_[s.address()] == 0)
      per_address_.erase(s.address());
  }
}

std::vector<std::shared_ptr<session>> registry::all() const {
  std::vector<std::shared_ptr<session>> result;
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& w : sessions_)
    if (auto sp = w.lock())
      result.push_back(std::move(sp));
  return result;
}

engine_stats registry::stats() const {
  std::vector<std::shared_ptr<session>> hold;
  std::lock_guard<std::mutex> guard{mutex_};
  engine_stats out;
  out.open_connections = sessions_.size();
  for (auto& w : sessions_)
    if (auto sp = w.lock()) {
      if (sp->current() == phase::idle)
        ++out.idle_connections;
      hold.push_back(std::move(sp));
    }
  out.evicted = evicted_;
  out.refused = refused_;
  return out;
}

// -- stream_impl --------------------------------------------------------------

bool stream_impl::push(std::string chunk) {
  if (!open_.load())
    return false;
  std::shared_ptr<session> s;
  {
    std::lock_guard<std::mutex> guard{life_->mutex};
    if (!life_->running) {
      open_ = false;
      return false;
    }
    auto n = chunk.size();
    // One chunk larger than the whole buffer still goes to an idle stream.
    if (queued_.load() > 0 && queued_.load() + n > limit_) {
      ++dropped_;
      return false;
    }
    s = session_.lock();
    if (!s) {
      open_ = false;
      return false;
    }
    queued_ += n;
    asio::post(strand_, [s, chunk = std::move(chunk)]() mutable {
      s->stream_chunk(std::move(chunk));
    });
  }
  return true;
}

bool stream_impl::push_last(std::string chunk) {
  if (!open_.load())
    return false;
  std::lock_guard<std::mutex> guard{life_->mutex};
  if (!life_->running) {
    open_ = false;
    return false;
  }
  auto s = session_.lock();
  open_ = false;
  if (!s)
    return false;
  queued_ += chunk.size();
  asio::post(strand_, [s, chunk = std::move(chunk)]() mutable {
    s->stream_chunk(std::move(chunk));
    s->stream_end();
  });
  return true;
}

void stream_impl::close() {
  if (!open_.exchange(false))
    return;
  std::shared_ptr<session> s;
  std::lock_guard<std::mutex> guard{life_->mutex};
  if (!life_->running)
    return;
  s = session_.lock();
  if (s)
    asio::post(strand_, [s] { s->stream_end(); });
}

// -- session ------------------------------------------------------------------

session::session(engine::state& st, tcp::socket socket, std::string address)
    : st_(st), socket_(std::move(socket)), exec_(socket_.get_executor()),
      timer_(exec_), address_(std::move(address)) {}

session::~session() {
  st_.registry.remove(*this);
  if (stream_)
    stream_->mark_closed();
}

void session::start() {
  asio::dispatch(exec_,
                 [self = shared_from_this()] { self->wait_for_request(); });
}

void session::close_soon() {
  asio::post(exec_, [self = shared_from_this()] { self->close(); });
}

void session::arm(std::chrono::milliseconds after) {
  auto generation = ++timer_generation_;
  timer_.expires_after(after);
  timer_.async_wait(
      [self = shared_from_this(), generation](const error_code& ec) {
        if (ec || generation != self->timer_generation_)
          return;
        self->on_deadline();
      });
}

void session::disarm() {
  ++timer_generation_;
  timer_.cancel();
}

void session::on_deadline() {
  switch (current()) {
    case phase::idle: {
      // A request that arrived just now is read, not cut off: closing a
      // connection the client already sent on loses that request.
      error_code ec;
      if (socket_.available(ec) > 0 && !ec)
        return;
      close();
      return;
    }
    case phase::reading: {
      timed_out_ = true;
      error_code ec;
      socket_.cancel(ec);
      return;
    }
    case phase::writing:
    case phase::streaming:
      close();
      return;
    case phase::handling:
    case phase::closed:
      return;
  }
}

void session::wait_for_request() {
  if (current() == phase::closed)
    return;
  if (buffer_.size() > 0) {
    read_head();
    return;
  }
  // An idle connection keeps no buffers: thousands of them cost sockets.
  if (buffer_.capacity() > 0)
    buffer_.shrink_to_fit();
  std::string{}.swap(out_);
  phase_ = phase::idle;
  arm(st_.limits.idle_timeout);
  socket_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](const error_code& ec) {
                       if (self->current() != phase::idle)
                         return;
                       if (ec) {
                         self->close();
                         return;
                       }
                       self->read_head();
                     });
}

void session::read_head() {
  phase_ = phase::reading;
  timed_out_ = false;
  started_ = std::chrono::steady_clock::now();
  parser_.emplace();
  parser_->header_limit(
      static_cast<std::uint32_t>(st_.limits.max_header_bytes));
  parser_->body_limit(static_cast<std::uint64_t>(st_.limits.max_body_bytes));
  arm(st_.limits.request_deadline);
  bhttp::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](const error_code& ec, size_t) {
        self->on_head(ec);
      });
}

void session::on_head(error_code ec) {
  if (current() == phase::closed)
    return;
  if (ec) {
    read_failed(ec);
    return;
  }
  auto& msg = parser_->get();
  size_t fields = 0;
  size_t authorizations = 0;
  size_t lengths = 0;
  for (auto& field : msg) {
    ++fields;
    if (field.name() == bhttp::field::authorization)
      ++authorizations;
    else if (field.name() == bhttp::field::content_length)
      ++lengths;
  }
  if (fields > st_.limits.max_header_count) {
    reject(431, "header_fields_too_large",
           "more than " + std::to_string(st_.limits.max_header_count)
               + " header fields");
    return;
  }
  if (authorizations > 1 || lengths > 1) {
    reject(400, "bad_request",
           authorizations > 1 ? "send exactly one Authorization header"
                              : "send exactly one Content-Length header");
    return;
  }
  if (parser_->is_done()) {
    dispatch_request();
    return;
  }
  auto read_body = [self = shared_from_this()] {
    bhttp::async_read(
        self->socket_, self->buffer_, *self->parser_,
        [self](const error_code& e, size_t) { self->on_body(e); });
  };
  if (sb::iequals(view(msg[bhttp::field::expect]), "100-continue")) {
    out_ = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(
        socket_, asio::buffer(out_),
        [self = shared_from_this(), read_body](const error_code& e, size_t) {
          if (e) {
            self->close();
            return;
          }
          read_body();
        });
    return;
  }
  read_body();
}

void session::on_body(error_code ec) {
  if (current() == phase::closed)
    return;
  if (ec) {
    read_failed(ec);
    return;
  }
  dispatch_request();
}

void session::read_failed(error_code ec) {
  const auto& l = st_.limits;
  if (timed_out_) {
    reject(408, "request_timeout",
           "the request head and body must arrive within "
               + whole_seconds(l.request_deadline) + " s");
  } else if (ec == bhttp::error::header_limit
             || ec == bhttp::error::buffer_overflow) {
    reject(431, "header_fields_too_large",
           "the request head is larger than "
               + std::to_string(l.max_header_bytes) + " bytes");
  } else if (ec == bhttp::error::body_limit) {
    reject(413, "payload_too_large",
           "request body is larger than " + std::to_string(l.max_body_bytes)
               + " bytes");
  } else if (ec == bhttp::error::end_of_stream || ec == asio::error::eof
             || ec == asio::error::operation_aborted
             || ec == asio::error::connection_reset
             || ec == bhttp::error::partial_message) {
    close();
  } else {
    reject(400, "bad_request", "malformed HTTP request");
  }
}

void session::dispatch_request() {
  disarm();
  phase_ = phase::handling;
  auto msg = parser_->release();
  parser_.reset();
  version_ = msg.version();
  ++served_;
  bool keep = msg.keep_alive() && served_ < st_.limits.keep_alive_max;
  auto req = request_of(std::move(msg), address_);
  auto index = st_.routes.find(req);
  auto work = [self = shared_from_this(), req = std::move(req), index,
               keep]() mutable {
    response res;
    auto route = self->st_.routes.serve(index, req, res);
    asio::post(self->exec_, [self, req = std::move(req), res = std::move(res),
                             route, keep]() mutable {
      self->respond(req, std::move(res), route, keep);
    });
  };
  if (index == router::npos || st_.routes.quick(index))
    work();
  else
    asio::post(*st_.pool, std::move(work));
}

void session::respond(const request& req, response res, std::string_view route,
                      bool keep) {
  if (current() == phase::closed)
    return;
  st_.routes.finished(req, res, route, seconds_since(started_));
  if (res.opener) {
    start_stream(res);
    return;
  }
  out_ = serialize_head(res, res.body.size(), keep, false, version_);
  if (req.method != "HEAD")
    out_ += res.body;
  write_out(keep);
}

void session::write_out(bool keep) {
  phase_ = phase::writing;
  arm(st_.limits.write_timeout);
  asio::async_write(
      socket_, asio::buffer(out_),
      [self = shared_from_this(), keep](const error_code& ec, size_t) {
        self->disarm();
        if (ec) {
          self->close();
          return;
        }
        if (keep)
          self->wait_for_request();
        else
          self->linger(linger_after_close);
      });
}

void session::reject(int status, std::string_view code,
                     const std::string& message) {
  disarm();
  request req;
  if (parser_ && parser_->is_header_done()) {
    auto& msg = parser_->get();
    req.method = std::string{view(msg.method_string())};
    auto target = view(msg.target());
    req.path = std::string{target.substr(0, target.find('?'))};
  }
  parser_.reset();
  response res;
  send_error(res, status, code, message);
  st_.routes.finished(req, res, unmatched_route, seconds_since(started_));
  out_
      = serialize_head(res, res.body.size(), false, false, version_) + res.body;
  phase_ = phase::writing;
  arm(st_.limits.write_timeout);
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this()](const error_code& ec, size_t) {
                      self->disarm();
                      if (ec)
                        self->close();
                      else
                        self->linger(linger_after_error);
                    });
}

void session::refuse() {
  response res;
  send_error(res, 503, "too_many_connections",
             "the server has too many open connections; retry later");
  res.set_header("Retry-After", "1");
  out_
      = serialize_head(res, res.body.size(), false, false, version_) + res.body;
  phase_ = phase::writing;
  arm(st_.limits.write_timeout);
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this()](const error_code&, size_t) {
                      self->close();
                    });
}

void session::linger(std::chrono::milliseconds budget) {
  // Closing with unread input makes the kernel send a reset, which can
  // destroy our answer before the client reads it: stop sending, read and
  // drop what still comes for a moment, then close.
  phase_ = phase::writing;
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    close();
    return;
  }
  if (!scratch_)
    scratch_ = std::make_unique<char[]>(scratch_bytes);
  drained_ = 0;
  arm(budget);
  drain();
}

void session::drain() {
  socket_.async_read_some(
      asio::buffer(scratch_.get(), scratch_bytes),
      [self = shared_from_this()](const error_code& ec, size_t n) {
        self->drained_ += n;
        if (ec || self->drained_ > max_drain_bytes) {
          self->close();
          return;
        }
        self->drain();
      });
}

void session::close() {
  if (current() == phase::closed)
    return;
  phase_ = phase::closed;
  disarm();
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  parser_.reset();
  pending_.clear();
  if (stream_)
    stream_->mark_closed();
  st_.registry.remove(*this);
}

// -- streaming
// ------------------------------------------------------------------

void session::start_stream(response& res) {
  phase_ = phase::streaming;
  out_ = serialize_head(res, 0, false, true, version_);
  stream_ = std::make_shared<stream_impl>(weak_from_this(), st_.life, exec_,
                                          res.stream_buffer_bytes);
  arm(st_.limits.write_timeout);
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this(), open = std::move(res.opener)](
                        const error_code& ec, size_t) {
                      self->disarm();
                      if (ec) {
                        self->close();
                        return;
                      }
                      try {
                        open(self->stream_);
                      } catch (const std::exception&) {
                        self->close();
                        return;
                      }
                      self->watch_peer();
                      self->write_stream();
                    });
}

void session::watch_peer() {
  // A streaming client only ever sends to go away: any read completion
  // other than data means it is gone.
  if (!scratch_)
    scratch_ = std::make_unique<char[]>(scratch_bytes);
  socket_.async_read_some(
      asio::buffer(scratch_.get(), scratch_bytes),
      [self = shared_from_this()](const error_code& ec, size_t) {
        if (ec) {
          self->close();
          return;
        }
        self->watch_peer();
      });
}

void session::stream_chunk(std::string chunk) {
  if (current() != phase::streaming || stream_ending_) {
    if (stream_)
      stream_->written(chunk.size());
    return;
  }
  pending_.push_back(std::move(chunk));
  write_stream();
}

void session::stream_end() {
  stream_ending_ = true;
  write_stream();
}

void session::write_stream() {
  if (stream_writing_ || current() != phase::streaming)
    return;
  size_t n = 0;
  if (pending_.empty()) {
    if (!stream_ending_)
      return;
    out_ = "0\r\n\r\n";
  } else {
    auto chunk = std::move(pending_.front());
    pending_.pop_front();
    n = chunk.size();
    if (n == 0) {
      write_stream();
      return;
    }
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    out_ = size;
    out_ += chunk;
    out_ += "\r\n";
  }
  stream_writing_ = true;
  bool last = n == 0;
  arm(st_.limits.write_timeout);
  asio::async_write(
      socket_, asio::buffer(out_),
      [self = shared_from_this(), n, last](const error_code& ec, size_t) {
        self->disarm();
        self->stream_writing_ = false;
        self->stream_->written(n);
        if (ec) {
          self->close();
          return;
        }
        if (last) {
          self->close();
          return;
        }
        self->write_stream();
      });
}

} // namespace sb::http::detail
