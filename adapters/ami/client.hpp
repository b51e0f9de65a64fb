#pragma once

// The client side of one AMI session over TCP (Boost.Asio), without actors:
// connect, check the banner, log in (plain Secret or MD5 Challenge), keep the
// session alive with Ping, and hand every frame after the login response to
// the owner in batches, one batch per socket read.
//
// Asterisk drops a client that reads slower than its writetimeout (100 ms by
// default), so the socket is read on the client's own thread and the callbacks
// must never block: they hand the batch on (e.g. an actor send) and return.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "messages/ami_event.hpp"

namespace sb::ami {

/// What the client tells its owner. Every callback runs on the client's I/O
/// thread, never concurrently with another callback of the same client.
struct client_callbacks {
  /// The Login was accepted; from now on every frame goes to on_frames.
  std::function<void()> on_logged_in;
  /// The frames of one socket read after the login response, in order.
  /// Responses to the client's own actions (Ping, Login) are not included.
  std::function<void(ami_frame_batch&&)> on_frames;
  /// `count` frames over max_frame_bytes were dropped in the last read.
  std::function<void(uint64_t count)> on_oversized;
  /// The session ended; called at most once, and nothing is called after it.
  /// The text names the PBX and the cause, e.g. "pbx main: authentication
  /// failed: Authentication failed". It never contains the secret.
  std::function<void(std::string reason)> on_failed;
};

class client {
public:
  /// Bytes asked of the socket per read (and so the most one batch carries).
  static constexpr size_t read_buffer_bytes = 256 * 1024;

  client(pbx_config pbx, client_callbacks callbacks);

  /// Stops the session (see stop()).
  ~client();

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Connects on a new I/O thread. Call once.
  void start();

  /// Closes the socket and joins the I/O thread: no callback runs after this
  /// returns. Must not be called from a callback. Idempotent.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// "1", "0.25", "2.5": seconds as people write them in messages.
std::string format_seconds(double seconds);

} // namespace sb::ami
