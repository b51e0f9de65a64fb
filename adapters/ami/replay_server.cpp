#include "adapters/ami/replay_server.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <sstream>
#include <string_view>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <caf/sec.hpp>

#include "adapters/ami/codec.hpp"
#include "adapters/ami/live_channels.hpp"

namespace sb::ami {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

std::string recorded_action::get(const std::string& key) const {
  for (auto& [k, v] : fields)
    if (iequals(k, key))
      return v;
  return {};
}

bool recorded_action::has(const std::string& key) const {
  for (auto& [k, v] : fields)
    if (iequals(k, key))
      return true;
  return false;
}

namespace {

/// Most bytes handed to one write while streaming events.
constexpr size_t stream_chunk_bytes = 64 * 1024;

class session;

} // namespace

struct replay_server::impl {
  replay_options options;
  std::string banner;
  std::vector<std::string> frames;
  /// Every event frame with its empty line, back to back: streaming writes
  /// point into it, no copy per connection.
  std::string wire;
  /// offsets[i] = where event i starts in `wire`; offsets.back() = size.
  std::vector<size_t> offsets;

  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::mt19937 rng{std::random_device{}()};
  std::vector<std::weak_ptr<session>> sessions;

  mutable std::mutex mtx;
  mutable std::condition_variable changed;
  /// The PBX's live channels after the events claimed so far (I/O thread).
  live_channels channels;
  /// Events to skip unsent before the next connection streams (I/O thread).
  size_t lost_pending = 0;

  // Guarded by mtx (written on the I/O thread, read by anyone).
  size_t next_event = 0;
  size_t sent = 0;
  /// Event frames written as answers to actions (CoreShowChannels lists).
  size_t answer_events = 0;
  size_t accepted = 0;
  size_t drops = 0;
  /// options.held until release().
  bool held = false;
  std::vector<recorded_action> actions;

  void accept();
};

namespace {

class session : public std::enable_shared_from_this<session> {
public:
  session(replay_server::impl& server, tcp::socket socket, size_t id)
      : server_(server), options_(server.options), socket_(std::move(socket)),
        pace_timer_(server.io), id_(id) {
    splitter_.expect_banner(false);
  }

  /// After release(): stream what the hold kept back.
  void resume() {
    pump();
  }

  void start() {
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay{true}, ignored);
    queue_owned(server_.banner + "\r\n");
    read();
  }

  void close() {
    if (closed_)
      return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    pace_timer_.cancel();
  }

  /// Ends the session the way a server that reads its input does: FIN
  /// after the last byte written, then input read and discarded until the
  /// client closes (at most two seconds). Closing with unread input (an
  /// action the client just sent) would make the kernel answer with a reset,
  /// and a reset discards what the client has received but not yet read:
  /// events this server counted as sent would never arrive.
  void close_gracefully() {
    if (closed_ || draining_)
      return;
    draining_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    pace_timer_.cancel();
    pace_timer_.expires_after(std::chrono::seconds(2));
    auto self = shared_from_this();
    pace_timer_.async_wait([this, self](boost::system::error_code ec) {
      if (!ec)
        close();
    });
  }

private:
  struct out_item {
    std::string owned;
    const char* data = nullptr;
    size_t size = 0;
    size_t events = 0;
    bool close_after = false;
  };

  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(
        asio::buffer(buffer_, sizeof(buffer_)),
        [this, self](boost::system::error_code ec, size_t n) {
          if (closed_)
            return;
          if (n > 0 && !draining_)
            splitter_.feed(
                std::string_view{buffer_, n}, [](std::string_view) {},
                [this](std::string_view frame) { on_action(frame); });
          if (ec) {
            close();
            return;
          }
          if (!closed_)
            read();
        });
  }

  void on_action(std::string_view frame) {
    ami_event action;
    if (!parse_frame(frame, action))
      return;
    recorded_action rec;
    rec.connection = id_;
    rec.name = std::string{action.get("Action")};
    rec.at = steady::now();
    for (size_t i = 0; i < action.size(); ++i)
      rec.fields.emplace_back(action.key(i), action.value(i));
    {
      std::lock_guard<std::mutex> guard{server_.mtx};
      server_.actions.push_back(rec);
    }
    server_.changed.notify_all();
    if (closing_)
      return;
    std::string id{action.get("ActionID")};
    auto& name = rec.name;
    if (iequals(name, "Challenge")) {
      if (!iequals(action.get("AuthType"), "MD5")) {
        respond_error(id, "Must specify AuthType");
        return;
      }
      challenge_ = std::to_string(100000000 + server_.rng() % 900000000);
      respond(id, "Success", {{"Challenge", challenge_}});
    } else if (iequals(name, "Login")) {
      login(action, id);
    } else if (iequals(name, "Logoff")) {
      respond(id, "Goodbye", {{"Message", "Thanks for all the fish."}});
      closing_ = true;
      pump();
    } else if (!logged_in_) {
      respond_error(id, "Permission denied");
    } else if (iequals(name, "Ping")) {
      ping(id);
    } else if (iequals(name, "CoreShowChannels")) {
      std::string answer;
      {
        std::lock_guard<std::mutex> guard{server_.mtx};
        answer = server_.channels.core_show_channels(id);
        // One CoreShowChannel per channel, then CoreShowChannelsComplete.
        server_.answer_events += server_.channels.size() + 1;
      }
      queue_owned(std::move(answer));
    } else if (auto text = options_.answer ? options_.answer(rec)
                                           : std::nullopt) {
      queue_owned(std::move(*text));
    } else {
      respond_error(id, "Invalid/unknown command");
    }
  }

  void login(const ami_event& action, const std::string& id) {
    bool ok = action.get("Username") == options_.username;
    if (ok) {
      if (iequals(action.get("AuthType"), "MD5"))
        ok = !challenge_.empty()
             && action.get("Key") == md5_login_key(challenge_, options_.secret);
      else
        ok = !options_.require_md5 && action.get("Secret") == options_.secret;
    }
    if (!ok) {
      // Asterisk answers, then ends the session.
      respond_error(id, "Authentication failed");
      closing_ = true;
      pump();
      return;
    }
    logged_in_ = true;
    std::string text = response_text(id, "Success",
                                     {{"Message", "Authentication accepted"}});
    // The login response and the first events in one write: a client that
    // stops reading after the response loses these (a popular npm one does).
    auto first = take_events(options_.events_with_login_response);
    if (first.second > 0) {
      text.append(server_.wire.data() + first.first,
                  event_bytes(first.first, first.second));
    }
    out_item item;
    item.owned = std::move(text);
    item.events = first.second;
    item.close_after = drop_due() || (first.second == 0 && login_drop_due());
    queue_.push_back(std::move(item));
    streaming_ = true;
    stream_start_ = steady::now();
    pump();
  }

  void ping(const std::string& id) {
    using ping_reply = replay_options::ping_reply;
    auto answer = [this, id] {
      if (closed_)
        return;
      char stamp[32];
      auto now = std::chrono::system_clock::now().time_since_epoch();
      auto micros
          = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
      std::snprintf(stamp, sizeof(stamp), "%lld.%06lld",
                    static_cast<long long>(micros / 1000000),
                    static_cast<long long>(micros % 1000000));
      respond(id, "Success", {{"Ping", "Pong"}, {"Timestamp", stamp}});
    };
    switch (options_.ping) {
      case ping_reply::normal:
        answer();
        break;
      case ping_reply::late: {
        auto timer = std::make_shared<asio::steady_timer>(server_.io);
        timer->expires_after(options_.ping_delay);
        auto self = shared_from_this();
        timer->async_wait([self, timer, answer](boost::system::error_code ec) {
          if (!ec)
            answer();
        });
        break;
      }
      case ping_reply::never:
        break;
    }
  }

  // -- output ----------------------------------------------------------------

  static std::string response_text(
      const std::string& id, std::string_view response,
      const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string text = "Response: ";
    text += response;
    text += "\r\n";
    if (!id.empty()) {
      text += "ActionID: ";
      text += id;
      text += "\r\n";
    }
    for (auto& [k, v] : fields) {
      text += k;
      text += ": ";
      text += v;
      text += "\r\n";
    }
    text += "\r\n";
    return text;
  }

  void respond(const std::string& id, std::string_view response,
               const std::vector<std::pair<std::string, std::string>>& fields) {
    queue_owned(response_text(id, response, fields));
  }

  void respond_error(const std::string& id, const std::string& message) {
    respond(id, "Error", {{"Message", message}});
  }

  void queue_owned(std::string text) {
    out_item item;
    item.owned = std::move(text);
    queue_.push_back(std::move(item));
    pump();
  }

  size_t event_bytes(size_t first, size_t count) const {
    return server_.offsets[first + count] - server_.offsets[first];
  }

  /// Claims up to `want` events from the shared cursor, never more than the
  /// drop limit allows on this connection. Returns (first offset, count).
  /// Claimed events count as happened on the PBX (CoreShowChannels).
  std::pair<size_t, size_t> take_events(size_t want) {
    auto total = server_.frames.size();
    if (drop_pending() && options_.close_after_events > sent_here_)
      want = std::min(want, options_.close_after_events - sent_here_);
    std::lock_guard<std::mutex> guard{server_.mtx};
    if (server_.lost_pending > 0) {
      // What happened while no client was connected: never sent.
      auto lost = std::min(server_.lost_pending, total - server_.next_event);
      for (size_t i = 0; i < lost; ++i)
        server_.channels.apply(server_.frames[server_.next_event + i]);
      server_.next_event += lost;
      server_.lost_pending = 0;
    }
    if (server_.next_event >= total && options_.loop)
      server_.next_event = 0;
    auto first = server_.next_event;
    auto count = std::min(want, total - first);
    for (size_t i = 0; i < count; ++i)
      server_.channels.apply(server_.frames[first + i]);
    server_.next_event += count;
    sent_here_ += count;
    return {server_.offsets[first], count};
  }

  bool drop_pending() const {
    if (options_.close_after_events == 0)
      return false;
    std::lock_guard<std::mutex> guard{server_.mtx};
    return server_.drops < options_.max_drops;
  }

  /// Called after claiming events: does this connection close now?
  bool drop_due() {
    if (options_.close_after_events == 0
        || sent_here_ < options_.close_after_events)
      return false;
    std::lock_guard<std::mutex> guard{server_.mtx};
    if (server_.drops >= options_.max_drops)
      return false;
    ++server_.drops;
    server_.lost_pending = options_.lost_on_drop;
    closing_ = true;
    return true;
  }

  /// drop_after_login: does this session close after its login response?
  bool login_drop_due() {
    if (!options_.drop_after_login)
      return false;
    std::lock_guard<std::mutex> guard{server_.mtx};
    if (server_.drops >= options_.max_drops)
      return false;
    ++server_.drops;
    closing_ = true;
    return true;
  }

  /// Starts the next write: queued responses first, then the next events.
  void pump() {
    if (writing_ || closed_ || draining_)
      return;
    if (queue_.empty()) {
      if (closing_) {
        close();
        return;
      }
      if (!streaming_ || !queue_stream_chunk())
        return;
    }
    auto& item = queue_.front();
    const char* data = item.owned.empty() ? item.data : item.owned.data();
    size_t size = item.owned.empty() ? item.size : item.owned.size();
    writing_ = true;
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(data, size),
                      [this, self](boost::system::error_code ec, size_t) {
                        writing_ = false;
                        if (closed_)
                          return;
                        if (ec) {
                          close();
                          return;
                        }
                        auto item = std::move(queue_.front());
                        queue_.pop_front();
                        if (item.events > 0) {
                          {
                            std::lock_guard<std::mutex> guard{server_.mtx};
                            server_.sent += item.events;
                          }
                          server_.changed.notify_all();
                        }
                        if (item.close_after) {
                          close_gracefully();
                          return;
                        }
                        pump();
                      });
  }

  /// Queues the next slice of the capture; false when there is nothing to
  /// send now (capture done, or pacing says wait).
  bool queue_stream_chunk() {
    {
      std::lock_guard<std::mutex> guard{server_.mtx};
      if (server_.held)
        return false; // release() pumps every session again
    }
    size_t want = SIZE_MAX;
    if (options_.events_per_second > 0) {
      auto elapsed
          = std::chrono::duration<double>(steady::now() - stream_start_)
                .count();
      auto allowed
          = static_cast<size_t>(elapsed * options_.events_per_second) + 1;
      if (allowed <= paced_) {
        if (!pace_armed_) {
          pace_armed_ = true;
          pace_timer_.expires_after(std::chrono::milliseconds(10));
          auto self = shared_from_this();
          pace_timer_.async_wait([this, self](boost::system::error_code ec) {
            pace_armed_ = false;
            if (!ec)
              pump();
          });
        }
        return false;
      }
      want = allowed - paced_;
    }
    // Bound the slice by bytes so Ping answers are not stuck behind it.
    size_t first_index;
    {
      std::lock_guard<std::mutex> guard{server_.mtx};
      if (server_.next_event >= server_.frames.size() && options_.loop)
        server_.next_event = 0;
      first_index = server_.next_event;
    }
    size_t n = 0;
    auto total = server_.frames.size();
    while (first_index + n < total && n < want
           && (n == 0 || event_bytes(first_index, n + 1) <= stream_chunk_bytes))
      ++n;
    if (n == 0)
      return false;
    auto [offset, count] = take_events(n);
    if (count == 0)
      return false;
    paced_ += count;
    out_item item;
    item.data = server_.wire.data() + offset;
    item.size = server_.offsets[first_index + count] - offset;
    item.events = count;
    item.close_after = drop_due();
    queue_.push_back(std::move(item));
    return true;
  }

  replay_server::impl& server_;
  const replay_options& options_;
  tcp::socket socket_;
  asio::steady_timer pace_timer_;
  size_t id_;
  frame_splitter splitter_;
  char buffer_[16 * 1024];
  std::deque<out_item> queue_;
  std::string challenge_;
  bool logged_in_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool streaming_ = false;
  bool pace_armed_ = false;
  size_t sent_here_ = 0;
  /// Output shut down, input discarded until the client closes.
  bool draining_ = false;
  size_t paced_ = 0;
  steady::time_point stream_start_;
};

} // namespace

void replay_server::impl::accept() {
  acceptor.async_accept(
      [this](boost::system::error_code ec, tcp::socket socket) {
        if (!acceptor.is_open())
          return;
        if (!ec) {
          size_t id;
          {
            std::lock_guard<std::mutex> guard{mtx};
            id = ++accepted;
          }
          changed.notify_all();
          auto s = std::make_shared<session>(*this, std::move(socket), id);
          sessions.erase(std::remove_if(sessions.begin(), sessions.end(),
                                        [](auto& w) { return w.expired(); }),
                         sessions.end());
          sessions.push_back(s);
          s->start();
        }
        accept();
      });
}

caf::expected<std::unique_ptr<replay_server>>
replay_server::start(replay_options options) {
  auto p = std::make_unique<impl>();
  p->options = std::move(options);
  p->held = p->options.held;
  std::ifstream in{p->options.capture_path, std::ios::binary};
  if (!in)
    return caf::make_error(caf::sec::runtime_error,
                           "cannot read capture " + p->options.capture_path);
  std::stringstream content;
  content << in.rdbuf();
  frame_splitter splitter{1 << 20};
  splitter.feed(
      content.str(), [&](std::string_view line) { p->banner = line; },
      [&](std::string_view frame) {
        // The recorder's own login response is replaced by ours.
        if (frame.size() > 9 && iequals(frame.substr(0, 9), "Response:"))
          return;
        p->frames.emplace_back(frame);
      });
  if (p->banner.rfind("Asterisk Call Manager/", 0) != 0)
    p->banner = "Asterisk Call Manager/11.0.0";
  p->offsets.reserve(p->frames.size() + 1);
  for (auto& f : p->frames) {
    p->offsets.push_back(p->wire.size());
    p->wire += f;
    p->wire += "\r\n\r\n";
  }
  p->offsets.push_back(p->wire.size());
  for (auto& f : p->frames) {
    auto at = f.find("\r\nTimestamp: ");
    if (at != std::string::npos) {
      p->channels.start_clock(std::strtod(f.c_str() + at + 13, nullptr));
      break;
    }
  }
  boost::system::error_code ec;
  auto address = asio::ip::make_address(p->options.bind_address, ec);
  if (ec)
    return caf::make_error(caf::sec::runtime_error,
                           "bad bind address " + p->options.bind_address);
  tcp::endpoint endpoint{address, p->options.port};
  p->acceptor.open(endpoint.protocol(), ec);
  if (!ec)
    p->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec)
    p->acceptor.bind(endpoint, ec);
  if (!ec)
    p->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return caf::make_error(caf::sec::runtime_error,
                           "cannot listen on " + p->options.bind_address + ":"
                               + std::to_string(p->options.port) + ": "
                               + ec.message());
  p->accept();
  auto* raw = p.get();
  p->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<replay_server>{new replay_server(std::move(p))};
}

replay_server::replay_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

replay_server::~replay_server() {
  stop();
}

uint16_t replay_server::port() const noexcept {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? impl_->options.port : ep.port();
}

size_t replay_server::capture_events() const noexcept {
  return impl_->frames.size();
}

const std::vector<std::string>& replay_server::capture_frames() const noexcept {
  return impl_->frames;
}

size_t replay_server::connections() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->accepted;
}

size_t replay_server::answer_events() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->answer_events;
}

size_t replay_server::events_sent() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->sent;
}

std::vector<recorded_action> replay_server::actions() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->actions;
}

std::vector<steady::time_point> replay_server::login_times() const {
  std::vector<steady::time_point> result;
  std::lock_guard<std::mutex> guard{impl_->mtx};
  for (auto& a : impl_->actions)
    if (iequals(a.name, "Login"))
      result.push_back(a.at);
  return result;
}

bool replay_server::wait_for_actions(const std::string& name, size_t count,
                                     std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock{impl_->mtx};
  return impl_->changed.wait_for(lock, timeout, [&] {
    return static_cast<size_t>(std::count_if(
               impl_->actions.begin(), impl_->actions.end(),
               [&](const recorded_action& a) { return iequals(a.name, name); }))
           >= count;
  });
}

void replay_server::release() {
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->held = false;
  }
  auto* p = impl_.get();
  asio::post(p->io, [p] {
    for (auto& weak : p->sessions)
      if (auto s = weak.lock())
        s->resume();
  });
}

void replay_server::stop() {
  auto& p = *impl_;
  if (!p.thread.joinable())
    return;
  auto closed = std::make_shared<std::promise<void>>();
  asio::post(p.io, [&p, closed] {
    boost::system::error_code ignored;
    p.acceptor.close(ignored);
    for (auto& w : p.sessions)
      if (auto s = w.lock())
        s->close();
    closed->set_value();
  });
  closed->get_future().wait_for(std::chrono::seconds(5));
  p.io.stop();
  p.thread.join();
}

} // namespace sb::ami
