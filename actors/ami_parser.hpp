#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "adapters/metrics/registry.hpp"
#include "messages/ami_parser_actor.hpp"
#include "messages/call_tracker_actor.hpp"

namespace sb {

struct ami_parser_state {
  static inline const char* name = "ami_parser";

  /// Distinct event names that get their own series; the rest share
  /// event="other", so a misbehaving peer cannot grow /metrics without bound.
  static constexpr size_t max_event_names = 256;

  metrics::actor_metrics* metrics = &metrics::global().actor(name);
  std::string pbx;
  call_tracker_actor tracker;

  /// switchboard_ami_events_total{pbx,event} by event name, looked up once
  /// per name: the keys view into `event_names`.
  std::unordered_map<std::string_view, metrics::counter*> event_counters;
  std::deque<std::string> event_names;
  metrics::counter* other_events = nullptr;
  metrics::counter* rejected_malformed = nullptr;
  metrics::counter* rejected_not_event = nullptr;

  uint64_t events = 0;
  uint64_t rejected = 0;

  metrics::counter& event_counter(std::string_view event_name);
};

ami_parser_actor::behavior_type
ami_parser(ami_parser_actor::stateful_pointer<ami_parser_state> self,
           std::string pbx, call_tracker_actor tracker);

} // namespace sb
