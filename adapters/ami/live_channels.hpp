#pragma once

// What a PBX knows about its live channels, rebuilt from the event stream it
// sends: the test AMI server keeps one to answer `Action: CoreShowChannels`
// the way Asterisk does (one `CoreShowChannel` event per channel, then
// `CoreShowChannelsComplete` with the number of items).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sb::ami {

class live_channels {
public:
  /// Applies one event frame (as on the wire, without the empty line).
  /// Frames that are no channel events change nothing.
  void apply(std::string_view frame);

  /// The PBX's clock before any frame was applied (the capture's first
  /// Timestamp): a PBX has a time at login, before its first event.
  void start_clock(double t) noexcept {
    if (clock_ == 0)
      clock_ = t;
  }

  size_t size() const noexcept {
    return channels_.size();
  }

  /// The answer to CoreShowChannels with `action_id`: the `Response:`
  /// frame, one CoreShowChannel frame per channel and the Complete frame,
  /// each ending with its empty line. Durations count up to the last
  /// Timestamp applied (the PBX's clock in the replayed stream).
  std::string core_show_channels(std::string_view action_id) const;

private:
  struct channel {
    std::string name;
    std::string uniqueid;
    std::string linkedid;
    std::string state = "0";
    std::string state_desc = "Down";
    std::string caller_num;
    std::string caller_name;
    std::string connected_num;
    std::string connected_name;
    std::string context;
    std::string exten;
    std::string priority;
    std::string application;
    std::string application_data;
    std::string bridge;
    double created = 0; // Timestamp of Newchannel, 0 = unknown
  };

  channel* find(std::string_view uniqueid);

  std::vector<channel> channels_;
  double clock_ = 0;
};

} // namespace sb::ami
