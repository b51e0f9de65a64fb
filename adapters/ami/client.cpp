#include "adapters/ami/client.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <future>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include "adapters/ami/codec.hpp"
#include "messages/ami_interest.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"

namespace sb::ami {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string format_seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", seconds);
  return text;
}

namespace {

std::chrono::steady_clock::duration to_duration(double seconds) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(seconds));
}

/// Does the frame's first line carry `key` (case-insensitive)? Asterisk puts
/// `Event:` / `Response:` first, so this classifies a frame without parsing.
bool first_key_is(std::string_view frame, std::string_view key) {
  return frame.size() > key.size() && frame[key.size()] == ':'
         && iequals(frame.substr(0, key.size()), key);
}

/// The value of the frame's first line (`Event: VarSet` -> `VarSet`).
std::string_view first_value(std::string_view frame) {
  auto colon = frame.find(':');
  if (colon == std::string_view::npos)
    return {};
  auto rest = frame.substr(colon + 1);
  auto eol = rest.find_first_of("\r\n");
  return trim(rest.substr(0, eol));
}

/// Printable excerpt of untrusted text for an error message.
std::string excerpt(std::string_view text, size_t max_len = 80) {
  std::string result;
  for (char c : text.substr(0, max_len))
    result += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > max_len)
    result += "...";
  return result;
}

constexpr std::string_view banner_prefix = "Asterisk Call Manager/";

} // namespace

struct io_pool::impl {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work
      = asio::make_work_guard(io);
  std::vector<std::thread> threads;
};

struct client::impl : std::enable_shared_from_this<client::impl> {
  enum class phase { connecting, banner, login, logged_in, done };
  enum class action_kind { challenge, login, ping, resync, owner };

  struct pending_action {
    std::string id;
    action_kind kind;
    /// owner: the owner's action, answered through this.
    action_done done;
  };

  pbx_config pbx;
  client_callbacks callbacks;
  std::shared_ptr<flow_gate> gate;
  std::string prefix; // "pbx <name>: "

  /// Every handler of this client runs on its strand: one at a time, on
  /// whichever pool thread is free.
  asio::strand<asio::io_context::executor_type> strand;
  tcp::resolver resolver{strand};
  tcp::socket socket{strand};
  asio::steady_timer login_deadline{strand};
  asio::steady_timer ping_timer{strand};
  asio::steady_timer ping_deadline{strand};
  /// start() was called, stop() was called (owner's thread).
  bool started = false;
  std::atomic<bool> stopped{false};
  /// The reader waits for the gate: an unanswered Ping is our silence, not
  /// the PBX's.
  bool paused = false;
  /// An async_read_some is outstanding.
  bool reading = false;
  /// stop() reads what the kernel already holds before it closes: with the
  /// reader held back by the gate, a burst waits there, not in memory.
  bool draining = false;
  size_t drain_budget = 0;
  std::shared_ptr<std::promise<void>> stopped_promise;

  std::unique_ptr<char[]> read_buffer{new char[read_buffer_bytes]};
  frame_splitter splitter;
  action_writer writer;
  std::vector<pending_action> pending;
  std::string out_queued;
  std::string out_writing;
  bool writing = false;
  phase state = phase::connecting;
  /// ActionID of the Ping awaiting its answer, empty when none.
  std::string ping_id;

  ami_frame_batch batch;
  /// Expected frames per read, so the batch vector rarely regrows.
  size_t batch_capacity = 64;
  ami_event scratch;
  uint64_t oversized_reported = 0;

  impl(pbx_config cfg, client_callbacks cbs, std::shared_ptr<flow_gate> flow,
       asio::io_context& io)
      : pbx(std::move(cfg)), callbacks(std::move(cbs)), gate(std::move(flow)),
        prefix("pbx " + pbx.name + ": "), strand(asio::make_strand(io)),
        splitter(pbx.max_frame_bytes), writer(pbx.name) {}

  // -- session steps ---------------------------------------------------------

  void connect() {
    login_deadline.expires_after(to_duration(pbx.login_timeout_seconds));
    login_deadline.async_wait([this, keep = shared_from_this()](
                                  boost::system::error_code ec) {
      if (ec || state == phase::logged_in || state == phase::done)
        return;
      auto limit = format_seconds(pbx.login_timeout_seconds);
      switch (state) {
        case phase::connecting:
          fail("cannot connect to " + pbx.host + ":" + std::to_string(pbx.port)
               + ": timed out after " + limit + " s");
          break;
        case phase::banner:
          fail("no AMI banner within " + limit + " s");
          break;
        default:
          fail("login not answered within " + limit + " s");
      }
    });
    resolver.async_resolve(
        pbx.host, std::to_string(pbx.port),
        [this, keep = shared_from_this()](
            boost::system::error_code ec,
            const tcp::resolver::results_type& found) {
          if (state == phase::done)
            return;
          if (ec) {
            fail("cannot resolve " + pbx.host + ": " + ec.message());
            return;
          }
          asio::async_connect(
              socket, found,
              [this, keep](boost::system::error_code ec, const tcp::endpoint&) {
                if (state == phase::done)
                  return;
                if (ec) {
                  fail("cannot connect to " + pbx.host + ":"
                       + std::to_string(pbx.port) + ": " + ec.message());
                  return;
                }
                boost::system::error_code ignored;
                socket.set_option(tcp::no_delay{true}, ignored);
                state = phase::banner;
                log::debug("ami_client", "connected",
                           {{"pbx", pbx.name}, {"host", pbx.host}});
                read();
              });
        });
  }

  void read() {
    if (state == phase::done || reading)
      return;
    // At the bound the socket is left unread until the consumer caught up:
    // the kernel's buffer fills and the PBX's writes wait, instead of this
    // process's memory growing. Only events are charged: the banner and the
    // login are read at once.
    paused = false;
    if (gate && state == phase::logged_in && !draining) {
      std::weak_ptr<impl> weak = shared_from_this();
      bool go = gate->wait([weak] {
        if (auto strong = weak.lock())
          asio::post(strong->strand, [strong] { strong->read(); });
      });
      if (!go) {
        paused = true;
        if (callbacks.on_paused)
          callbacks.on_paused();
        return;
      }
    }
    reading = true;
    socket.async_read_some(
        asio::buffer(read_buffer.get(), read_buffer_bytes),
        [this, keep = shared_from_this()](boost::system::error_code ec,
                                          size_t n) {
          reading = false;
          on_read(ec, n);
        });
  }

  /// A stop: reads on while the kernel holds bytes of this session (within
  /// the budget), then closes. Runs on the strand.
  void drain_then_close() {
    boost::system::error_code ec;
    auto available = socket.available(ec);
    if (!ec && available > 0 && drain_budget > 0
        && state == phase::logged_in) {
      drain_budget -= std::min(drain_budget, read_buffer_bytes);
      read();
      return;
    }
    state = phase::done;
    close();
    if (stopped_promise)
      stopped_promise->set_value();
  }

  void begin_stop(std::shared_ptr<std::promise<void>> done) {
    if (state != phase::logged_in) {
      state = phase::done;
      close();
      done->set_value();
      return;
    }
    draining = true;
    drain_budget = drain_limit_bytes;
    stopped_promise = std::move(done);
    boost::system::error_code ec;
    if (!reading) {
      drain_then_close();
      return;
    }
    // The outstanding read completes with what arrived, or is cancelled
    // when nothing waits.
    if (socket.available(ec) == 0 || ec)
      socket.cancel(ec);
  }

  void on_read(boost::system::error_code ec, size_t n) {
    if (state == phase::done)
      return;
    if (n > 0) {
      auto received = caf::make_timestamp();
      splitter.feed(
          std::string_view{read_buffer.get(), n},
          [this](std::string_view line) { on_banner(line); },
          [this](std::string_view frame) { on_frame(frame); });
      auto oversized = splitter.errors().oversized_frames;
      if (oversized != oversized_reported) {
        if (callbacks.on_oversized)
          callbacks.on_oversized(oversized - oversized_reported);
        oversized_reported = oversized;
      }
      if ((!batch.frames.empty() || !batch.skipped.empty())
          && state != phase::done) {
        batch_capacity = std::max(batch_capacity, batch.frames.size());
        batch.pbx = pbx.name;
        batch.received = received;
        if (gate)
          gate->acquire(batch_bytes());
        if (callbacks.on_frames)
          callbacks.on_frames(std::move(batch));
        batch = ami_frame_batch{};
        batch.frames.reserve(batch_capacity);
      }
    }
    if (state == phase::done)
      return;
    if (draining) {
      drain_then_close();
      return;
    }
    if (ec) {
      if (ec == asio::error::eof)
        fail(state == phase::logged_in
                 ? "connection closed by the PBX"
                 : "connection closed by the PBX before login completed");
      else
        fail("read failed: " + ec.message());
      return;
    }
    read();
  }

  /// What the batch charges to the gate: its frame texts.
  size_t batch_bytes() const noexcept {
    size_t bytes = 0;
    for (auto& frame : batch.frames)
      bytes += frame.size();
    return bytes;
  }

  void on_banner(std::string_view line) {
    if (state != phase::banner)
      return;
    if (line.substr(0, banner_prefix.size()) != banner_prefix) {
      fail("not an AMI server (banner \"" + excerpt(line) + "\")");
      return;
    }
    log::debug("ami_client", "banner",
               {{"pbx", pbx.name}, {"banner", excerpt(line)}});
    state = phase::login;
    if (pbx.auth == ami_auth::md5)
      send_action("Challenge", {{"AuthType", "MD5"}}, action_kind::challenge);
    else
      send_action("Login",
                  {{"Username", pbx.username},
                   {"Secret", pbx.secret},
                   {"Events", pbx.events}},
                  action_kind::login);
  }

  void on_frame(std::string_view frame) {
    switch (state) {
      case phase::logged_in:
        if (first_key_is(frame, "Event")) {
          if (pbx.drop_unread_events && skip(first_value(frame), frame))
            break;
          batch.frames.emplace_back(frame);
        } else if (!claim_response(frame)) {
          batch.frames.emplace_back(frame);
        }
        break;
      case phase::login:
        // Before the login response only our own responses matter; the
        // server sends no events to a session that has not logged in.
        if (!first_key_is(frame, "Event"))
          claim_response(frame);
        break;
      default:
        break;
    }
  }

  /// Counts an event the tracker never reads instead of keeping it; false
  /// for every other event.
  bool skip(std::string_view name, std::string_view frame) {
    if (!tracker_ignores(name))
      return false;
    if (name == "VarSet" && tracker_reads_varset(frame))
      return false;
    for (auto& [seen, n] : batch.skipped)
      if (seen == name) {
        ++n;
        return true;
      }
    batch.skipped.emplace_back(std::string{name}, 1);
    return true;
  }

  /// Handles a response to one of our actions, matched by ActionID only.
  /// Returns false when the frame is not such a response.
  bool claim_response(std::string_view frame) {
    if (!parse_frame(frame, scratch))
      return false;
    auto id = scratch.get("ActionID");
    if (id.empty())
      return false;
    auto i = std::find_if(pending.begin(), pending.end(),
                          [&](const pending_action& x) { return x.id == id; });
    if (i == pending.end())
      return false;
    auto kind = i->kind;
    auto done = std::move(i->done);
    pending.erase(i);
    bool success = iequals(scratch.get("Response"), "Success");
    std::string message{scratch.get("Message")};
    switch (kind) {
      case action_kind::challenge: {
        auto challenge = scratch.get("Challenge");
        if (!success || challenge.empty()) {
          fail("authentication failed: MD5 challenge refused"
               + (message.empty() ? std::string{} : ": " + excerpt(message)));
          break;
        }
        send_action("Login",
                    {{"AuthType", "MD5"},
                     {"Username", pbx.username},
                     {"Key", md5_login_key(challenge, pbx.secret)},
                     {"Events", pbx.events}},
                    action_kind::login);
        break;
      }
      case action_kind::login:
        if (!success) {
          fail("authentication failed: "
               + (message.empty() ? std::string{"login refused"}
                                  : excerpt(message, 200)));
          break;
        }
        state = phase::logged_in;
        login_deadline.cancel();
        if (callbacks.on_logged_in)
          callbacks.on_logged_in();
        // Asterisk does not replay what happened while we were away: ask
        // what is live. Its CoreShowChannel events pass on as ordinary ones.
        send_action("CoreShowChannels", {}, action_kind::resync);
        schedule_ping();
        break;
      case action_kind::resync:
        // The list follows as events; an error means an old PBX or no
        // permission: calls then age out as before.
        break;
      case action_kind::owner:
        if (done)
          done(success ? action_result::success : action_result::error,
               excerpt(message, 200));
        break;
      case action_kind::ping:
        // Any answer proves the session alive, even an error.
        if (ping_id == id) {
          ping_id.clear();
          ping_deadline.cancel();
          schedule_ping();
        }
        break;
    }
    return true;
  }

  void schedule_ping() {
    if (pbx.ping_interval_seconds <= 0 || state != phase::logged_in)
      return;
    ping_timer.expires_after(to_duration(pbx.ping_interval_seconds));
    ping_timer.async_wait([this, keep = shared_from_this()](
                              boost::system::error_code ec) {
      if (ec || state != phase::logged_in)
        return;
      auto id = send_action("Ping", {}, action_kind::ping);
      if (id.empty())
        return;
      ping_id = id;
      ping_deadline.expires_after(to_duration(pbx.ping_timeout_seconds));
      ping_deadline.async_wait([this, keep, id](boost::system::error_code ec) {
        // Compare ids: a deadline that expired while its answer was being
        // handled must not kill a live session.
        if (ec || state != phase::logged_in || ping_id != id)
          return;
        if (paused) {
          // The answer may be in the socket buffer we are not reading.
          ping_id.clear();
          schedule_ping();
          return;
        }
        fail("no answer to Ping within "
             + format_seconds(pbx.ping_timeout_seconds)
             + " s, connection considered dead");
      });
    });
  }

  /// The owner's action, on the strand: refused unless logged in, and
  /// never with a value that would break the frame.
  void send_owner_action(const std::string& name, const std::string& id,
                         const action_fields& fields, action_done& done) {
    if (state != phase::logged_in) {
      done(action_result::not_sent, "not logged in");
      return;
    }
    std::string frame;
    if (!writer.write(frame, name, id, fields)) {
      done(action_result::not_sent, "a value contains CR or LF");
      return;
    }
    out_queued += frame;
    pending.push_back({id, action_kind::owner, std::move(done)});
    flush();
  }

  /// Queues an action; returns its ActionID (empty on failure).
  std::string
  send_action(std::string_view name,
              const std::vector<std::pair<std::string, std::string>>& fields,
              action_kind kind) {
    auto id = writer.next_action_id();
    if (!writer.write(out_queued, name, id, fields)) {
      // Names the action, never the values: one of them may be the secret.
      fail("cannot send " + std::string{name}
           + ": a configured value contains CR or LF");
      return {};
    }
    pending.push_back({id, kind});
    flush();
    return id;
  }

  void flush() {
    if (writing || out_queued.empty() || state == phase::done)
      return;
    std::swap(out_queued, out_writing);
    out_queued.clear();
    writing = true;
    asio::async_write(socket, asio::buffer(out_writing),
                      [this, keep = shared_from_this()](
                          boost::system::error_code ec, size_t) {
                        writing = false;
                        out_writing.clear();
                        if (state == phase::done)
                          return;
                        if (ec) {
                          fail("write failed: " + ec.message());
                          return;
                        }
                        flush();
                      });
  }

  void close() {
    boost::system::error_code ignored;
    resolver.cancel();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    login_deadline.cancel();
    ping_timer.cancel();
    ping_deadline.cancel();
  }

  void fail(const std::string& reason) {
    if (state == phase::done)
      return;
    state = phase::done;
    close();
    if (callbacks.on_failed)
      callbacks.on_failed(prefix + reason);
    if (stopped_promise)
      stopped_promise->set_value(); // a stop that was draining
  }
};

client::client(pbx_config pbx, client_callbacks callbacks,
               std::shared_ptr<flow_gate> gate)
    : impl_(std::make_shared<impl>(std::move(pbx), std::move(callbacks),
                                   std::move(gate),
                                   io_pool::shared().get().io)) {}

client::~client() {
  stop();
}

void client::start() {
  auto self = impl_;
  self->started = true;
  asio::post(self->strand, [self] {
    try {
      self->connect();
    } catch (const std::exception& e) {
      self->fail(std::string{"internal error: "} + e.what());
    }
  });
}

void client::send_action(std::string name, std::string action_id,
                         action_fields fields, action_done done) {
  auto self = impl_;
  asio::post(self->strand, [self, name = std::move(name),
                            id = std::move(action_id),
                            fields = std::move(fields),
                            done = std::move(done)]() mutable {
    self->send_owner_action(name, id, fields, done);
  });
}

void client::stop() {
  auto self = impl_;
  if (!self->started || self->stopped.exchange(true))
    return;
  // On the strand: once this ran, every later handler sees `done` and
  // calls nothing; handlers still queued keep the state alive through
  // their shared_ptr.
  auto closed = std::make_shared<std::promise<void>>();
  auto finished = closed->get_future();
  asio::post(self->strand, [self, closed] { self->begin_stop(closed); });
  // Bounded: a pool already gone (process exit) must not hang the caller.
  if (finished.wait_for(std::chrono::seconds{5})
      != std::future_status::ready)
    log::error("ami_client", "the I/O pool did not close a connection",
               {{"pbx", self->pbx.name}});
}

io_pool::io_pool() : impl_(std::make_unique<impl>()) {
  auto n = std::clamp(std::thread::hardware_concurrency(), 2U, 8U);
  for (unsigned i = 0; i < n; ++i)
    impl_->threads.emplace_back([this] {
      for (;;) {
        try {
          impl_->io.run();
          return;
        } catch (const std::exception& e) {
          // A handler threw: the pool keeps serving the other connections.
          log::error("ami_client", "I/O handler failed", {{"error", e.what()}});
        }
      }
    });
}

io_pool::~io_pool() {
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->threads)
    t.join();
}

io_pool& io_pool::shared() {
  static io_pool pool;
  return pool;
}

size_t io_pool::threads() const noexcept {
  return impl_->threads.size();
}

} // namespace sb::ami
