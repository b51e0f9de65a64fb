#pragma once

// The systemd readiness protocol (sd_notify(3)) without libsystemd: one
// datagram such as "READY=1" to the unix socket named by $NOTIFY_SOCKET
// (a path, or an abstract name written with a leading '@'). Without
// NOTIFY_SOCKET (not started by systemd with Type=notify) nothing is sent.

#include <string>

namespace sb {

/// Sends `state` ("READY=1", "STOPPING=1", "RELOADING=1", "STATUS=...") to
/// `socket_path`. False when the path is empty or the send failed.
bool notify_systemd(const std::string& socket_path, const std::string& state);

/// notify_systemd() to $NOTIFY_SOCKET.
bool notify_systemd(const std::string& state);

} // namespace sb
