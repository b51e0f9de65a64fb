#pragma once

// A local AMI server that replays a recorded session (tests/fixtures/ami/*.ami)
// to every client that logs in. It stands in for Asterisk in the tests and in
// `switchboard demo`: banner, Login (plain or MD5 Challenge), Ping, Logoff,
// CoreShowChannels (answered from the channels the replayed stream has up, as
// Asterisk does), then the capture's events, with knobs for the failure modes
// a client must survive (late Ping answers, a socket closed mid-stream, events
// that happen while no client is connected and are never resent, the login
// response sharing one TCP segment with the first events).
//
// Runs on its own I/O thread; every accessor is thread-safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

namespace sb::ami {

struct recorded_action;

/// Answers an action the server has no answer of its own for (Originate,
/// ...): the frames to write (responses and events, each ending in an empty
/// line), or nullopt for Asterisk's "Invalid/unknown command". Runs on the
/// server's I/O thread.
using action_answerer
    = std::function<std::optional<std::string>(const recorded_action&)>;

struct replay_options {
  /// The capture to replay. Its own `Response:` frames (the recorder's
  /// login) are skipped: the server answers the client's actions itself.
  std::string capture_path;
  /// Where to listen; port 0 picks a free one (see replay_server::port()).
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;
  std::string username = "admin";
  std::string secret = "secret";
  /// Refuse a plain `Secret` login: only the MD5 Challenge is accepted.
  bool require_md5 = false;

  enum class ping_reply { normal, late, never };
  ping_reply ping = ping_reply::normal;
  /// How late a `late` Ping answer comes.
  std::chrono::milliseconds ping_delay{2000};

  /// Close the socket after this many event frames on one connection
  /// (0 = never), at most `max_drops` times. The next connection continues
  /// where the closed one stopped, so a reconnecting client gets the rest.
  size_t close_after_events = 0;
  size_t max_drops = 1;
  /// After such a drop, this many events happen while nobody is connected:
  /// the next connection starts after them and they are never sent (as with
  /// a real Asterisk), though CoreShowChannels reflects them.
  size_t lost_on_drop = 0;
  /// Close each session right after its login response, before any event
  /// (at most `max_drops` times): a PBX that accepts logins, then fails.
  bool drop_after_login = false;

  /// Send the login response and this many events in one write (one TCP
  /// segment on loopback).
  size_t events_with_login_response = 0;

  /// Events per second (0 = as fast as the socket takes them).
  double events_per_second = 0;
  /// Start the capture again after its last event (for the demo).
  bool loop = false;
  /// Log clients in but send no event until release(): a PBX that is
  /// connected and quiet until a call happens at a moment the test chooses.
  bool held = false;
  /// Actions beyond the built-in ones (see action_answerer); empty = none.
  action_answerer answer;
};

/// One action the server received (secrets included: test use only, never
/// logged).
struct recorded_action {
  /// Which connection, counting from 1.
  size_t connection = 0;
  std::string name;
  std::vector<std::pair<std::string, std::string>> fields;
  std::chrono::steady_clock::time_point at;

  /// First value of `key` (case-insensitive), empty when absent.
  std::string get(const std::string& key) const;
  bool has(const std::string& key) const;
};

class replay_server {
public:
  /// Loads the capture and starts listening; an error names the file or the
  /// address that failed.
  static caf::expected<std::unique_ptr<replay_server>>
  start(replay_options options);

  ~replay_server();
  replay_server(const replay_server&) = delete;
  replay_server& operator=(const replay_server&) = delete;

  uint16_t port() const noexcept;

  /// Event frames in the capture (what one full replay delivers).
  size_t capture_events() const noexcept;

  /// The capture's event frames, as on the wire without the empty line.
  const std::vector<std::string>& capture_frames() const noexcept;

  /// Connections accepted so far.
  size_t connections() const;

  /// Event frames written so far, over all connections.
  size_t events_sent() const;

  /// Event frames written as answers to actions (the CoreShowChannel list
  /// and its Complete event), over all connections.
  size_t answer_events() const;

  /// Every action received, in order.
  std::vector<recorded_action> actions() const;

  /// When each `Login` action arrived.
  std::vector<std::chrono::steady_clock::time_point> login_times() const;

  /// Waits until `count` actions named `name` have arrived (false on
  /// timeout). Waits on the server, not on an actor.
  bool wait_for_actions(const std::string& name, size_t count,
                        std::chrono::milliseconds timeout) const;

  /// Lets a `held` server stream its capture to the connected clients (and
  /// to every client from now on).
  void release();

  /// Closes the listener and every connection; joins the I/O thread.
  void stop();

  struct impl;

private:
  explicit replay_server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace sb::ami
