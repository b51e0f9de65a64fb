#include "adapters/ami/live_channels.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "adapters/ami/codec.hpp"
#include "messages/ami_event.hpp"

namespace sb::ami {

namespace {

void assign_if(std::string& field, const ami_event& e, std::string_view key) {
  if (e.has(key))
    field = std::string{e.get(key)};
}

void line(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out += ": ";
  out += value;
  out += "\r\n";
}

std::string hms(double seconds) {
  auto s = static_cast<long long>(std::max(0.0, seconds));
  char text[32];
  std::snprintf(text, sizeof(text), "%02lld:%02lld:%02lld", s / 3600,
                (s / 60) % 60, s % 60);
  return text;
}

/// The events that change what CoreShowChannels shows, told from the
/// frame's first line without parsing it (the server applies every frame
/// it streams).
bool changes_channels(std::string_view frame) {
  constexpr std::string_view prefix = "Event: ";
  if (frame.substr(0, prefix.size()) != prefix)
    return true; // unusual layout: parse it
  auto name = frame.substr(prefix.size());
  name = name.substr(0, name.find('\r'));
  return name == "Newchannel" || name == "Newstate" || name == "Hangup"
         || name == "BridgeEnter" || name == "BridgeLeave"
         || name == "NewCallerid" || name == "NewConnectedLine"
         || name == "Newexten";
}

} // namespace

live_channels::channel* live_channels::find(std::string_view uniqueid) {
  for (auto& ch : channels_)
    if (ch.uniqueid == uniqueid)
      return &ch;
  return nullptr;
}

void live_channels::apply(std::string_view frame) {
  if (!changes_channels(frame))
    return;
  ami_event e;
  if (!parse_frame(frame, e))
    return;
  auto name = e.name();
  if (name.empty())
    return;
  auto ts = e.get("Timestamp");
  if (!ts.empty())
    clock_ = std::strtod(std::string{ts}.c_str(), nullptr);
  auto uniqueid = e.get("Uniqueid");
  if (uniqueid.empty())
    return;
  if (name == "Hangup") {
    channels_.erase(std::remove_if(channels_.begin(), channels_.end(),
                                   [&](const channel& ch) {
                                     return ch.uniqueid == uniqueid;
                                   }),
                    channels_.end());
    return;
  }
  auto* ch = find(uniqueid);
  if (ch == nullptr) {
    if (name != "Newchannel")
      return; // a channel this table never saw begin
    ch = &channels_.emplace_back();
    ch->uniqueid = std::string{uniqueid};
    ch->created = clock_;
  }
  assign_if(ch->name, e, "Channel");
  assign_if(ch->linkedid, e, "Linkedid");
  assign_if(ch->state, e, "ChannelState");
  assign_if(ch->state_desc, e, "ChannelStateDesc");
  assign_if(ch->caller_num, e, "CallerIDNum");
  assign_if(ch->caller_name, e, "CallerIDName");
  assign_if(ch->connected_num, e, "ConnectedLineNum");
  assign_if(ch->connected_name, e, "ConnectedLineName");
  assign_if(ch->context, e, "Context");
  assign_if(ch->exten, e, "Exten");
  assign_if(ch->priority, e, "Priority");
  if (name == "Newexten") {
    assign_if(ch->application, e, "Application");
    assign_if(ch->application_data, e, "AppData");
  } else if (name == "BridgeEnter") {
    ch->bridge = std::string{e.get("BridgeUniqueid")};
  } else if (name == "BridgeLeave") {
    ch->bridge.clear();
  }
}

std::string live_channels::core_show_channels(std::string_view id) const {
  std::string out;
  line(out, "Response", "Success");
  if (!id.empty())
    line(out, "ActionID", id);
  line(out, "EventList", "start");
  line(out, "Message", "Channels will follow");
  out += "\r\n";
  char stamp[32];
  std::snprintf(stamp, sizeof(stamp), "%.6f", clock_);
  for (auto& ch : channels_) {
    line(out, "Event", "CoreShowChannel");
    if (clock_ > 0)
      line(out, "Timestamp", stamp);
    if (!id.empty())
      line(out, "ActionID", id);
    line(out, "Channel", ch.name);
    line(out, "ChannelState", ch.state);
    line(out, "ChannelStateDesc", ch.state_desc);
    line(out, "CallerIDNum", ch.caller_num);
    line(out, "CallerIDName", ch.caller_name);
    line(out, "ConnectedLineNum", ch.connected_num);
    line(out, "ConnectedLineName", ch.connected_name);
    line(out, "Language", "en");
    line(out, "AccountCode", "");
    line(out, "Context", ch.context);
    line(out, "Exten", ch.exten);
    line(out, "Priority", ch.priority);
    line(out, "Uniqueid", ch.uniqueid);
    line(out, "Linkedid", ch.linkedid);
    line(out, "Application", ch.application);
    line(out, "ApplicationData", ch.application_data);
    line(out, "Duration",
         hms(ch.created > 0 && clock_ > 0 ? clock_ - ch.created : 0));
    line(out, "BridgeId", ch.bridge);
    out += "\r\n";
  }
  line(out, "Event", "CoreShowChannelsComplete");
  if (clock_ > 0)
    line(out, "Timestamp", stamp);
  if (!id.empty())
    line(out, "ActionID", id);
  line(out, "EventList", "Complete");
  line(out, "ListItems", std::to_string(channels_.size()));
  out += "\r\n";
  return out;
}

} // namespace sb::ami
