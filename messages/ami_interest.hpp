#pragma once

// Which AMI events the call tracker reads. The list lives here, beside the
// event type, because the AMI reader uses it too: events nobody reads are
// dropped before they are parsed or queued, which keeps memory bounded when a
// PBX sends faster than the pipeline drains.

#include <string_view>

namespace sb {

/// Events the tracker has no use for: most of the stream (VarSet and
/// Newexten alone are ~75 %), skipped before any field is looked at. Caller
/// ID and connected-line updates are not needed because the outside number
/// is read from Newchannel (before any rewrite); DialState, hang-up requests,
/// DTMF and bridge creation add nothing the Dial, Hangup and BridgeEnter
/// events do not say. Bridges entered and left, Hold / Unhold, Cdr,
/// OriginateResponse and the re-sync (CoreShowChannel,
/// CoreShowChannelsComplete) are all read. Events not listed here (queue
/// events, transfers, ...) still mark their call alive.
inline bool tracker_ignores(std::string_view name) noexcept {
  switch (name.size()) {
    case 6:
      return name == "VarSet";
    case 7:
      return name == "DTMFEnd";
    case 8:
      return name == "Newexten";
    case 9:
      return name == "DialState" || name == "DTMFBegin";
    case 11:
      return name == "FullyBooted" || name == "NewCallerid";
    case 12:
      return name == "BridgeCreate";
    case 13:
      return name == "ChallengeSent" || name == "HangupRequest"
             || name == "BridgeDestroy";
    case 14:
      return name == "SuccessfulAuth";
    case 15:
      return name == "ExtensionStatus";
    case 16:
      return name == "NewConnectedLine";
    case 17:
      return name == "DeviceStateChange" || name == "QueueMemberStatus"
             || name == "SoftHangupRequest";
    default:
      return false;
  }
}

/// The one VarSet the tracker reads: the recording MixMonitor writes.
/// `frame` is the raw event as on the wire.
inline bool tracker_reads_varset(std::string_view frame) noexcept {
  return frame.find("\nVariable: MIXMONITOR_FILENAME\r") != std::string_view::npos;
}

/// True for every event the tracker may use (anything not known to be
/// noise, so a new event kind is kept rather than lost).
inline bool tracker_wants(std::string_view name) noexcept {
  return !tracker_ignores(name);
}

} // namespace sb
