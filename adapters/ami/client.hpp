#pragma once

// The client side of one AMI session over TCP (Boost.Asio), without actors:
// connect, check the banner, log in (plain Secret or MD5 Challenge), keep the
// session alive with Ping, and hand every frame after the login response to
// the owner in batches, one batch per socket read.
//
// Every client of the process shares one io_context run by a small pool of
// threads (io_pool): a connection is a socket, its buffers and three timers,
// not a thread, so one process follows 1,000 PBXes. Asterisk drops a client
// that reads slower than its writetimeout (100 ms by default), so the
// callbacks must never block: they hand the batch on (an actor send) and
// return.
//
// With a flow_gate the bytes handed on are bounded: every batch is charged to
// the gate until its consumer releases it, and at the bound the client issues
// no further read (the kernel's buffers fill, then the PBX's writes wait) until
// a release opens the gate again.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "core/flow_gate.hpp"
#include "messages/ami_event.hpp"

namespace sb::ami {

/// What the client tells its owner. Every callback runs on a pool thread,
/// never concurrently with another callback of the same client.
struct client_callbacks {
  /// The Login was accepted; from now on every frame goes to on_frames.
  std::function<void()> on_logged_in;
  /// The frames of one socket read after the login response, in order.
  /// Responses to the client's own actions (Ping, Login) are not included.
  std::function<void(ami_frame_batch&&)> on_frames;
  /// `count` frames over max_frame_bytes were dropped in the last read.
  std::function<void(uint64_t count)> on_oversized;
  /// The gate is closed: the socket is not read until it opens.
  std::function<void()> on_paused;
  /// The session ended; called at most once, and nothing is called after it.
  /// The text names the PBX and the cause, e.g. "pbx main: authentication
  /// failed: Authentication failed". It never contains the secret.
  std::function<void(std::string reason)> on_failed;
};

/// How the PBX answered one of the owner's actions.
enum class action_result {
  /// `Response: Success`.
  success,
  /// `Response: Error` (the message says why, e.g. "Permission denied").
  error,
  /// Not sent: the session is not logged in, or a value holds CR/LF.
  not_sent,
};

using action_fields = std::vector<std::pair<std::string, std::string>>;

/// Runs on a pool thread with the answer and the PBX's `Message:`. Never
/// called when the session ends before the answer came.
using action_done = std::function<void(action_result, std::string message)>;

/// The io_context every client shares and its threads: two, or the core
/// count when that is more (at most 8). Started on first use.
class io_pool {
public:
  static io_pool& shared();

  /// Threads running the io_context.
  size_t threads() const noexcept;

  ~io_pool();
  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  struct impl;
  impl& get() noexcept {
    return *impl_;
  }

private:
  io_pool();
  std::unique_ptr<impl> impl_;
};

class client {
public:
  /// Bytes asked of the socket per read (and so the most one batch carries).
  static constexpr size_t read_buffer_bytes = 64 * 1024;
  /// What stop() reads at most from what the kernel already holds (the
  /// bytes flow control left there) before it closes the socket.
  static constexpr size_t drain_limit_bytes = 32 * 1024 * 1024;

  /// `gate` bounds the bytes of the batches handed on and not yet released
  /// by their consumer; null means no bound (tools, tests).
  client(pbx_config pbx, client_callbacks callbacks,
         std::shared_ptr<flow_gate> gate = nullptr);

  /// Stops the session (see stop()).
  ~client();

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Connects on the shared pool. Call once.
  void start();

  /// Sends `name` with `action_id` (unique within the session; an event
  /// Asterisk raises for it, such as OriginateResponse, repeats it and goes
  /// to on_frames as usual) once the session is logged in.
  void send_action(std::string name, std::string action_id,
                   action_fields fields, action_done done);

  /// Hands on what the kernel already holds of a logged-in session (at
  /// most drain_limit_bytes, regardless of the gate), then closes the
  /// socket; no callback runs after this returns. Must not be called from a
  /// callback. Idempotent.
  void stop();

  struct impl;

private:
  std::shared_ptr<impl> impl_;
};

/// "1", "0.25", "2.5": seconds as people write them in messages.
std::string format_seconds(double seconds);

} // namespace sb::ami
