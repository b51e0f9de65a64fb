#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "adapters/metrics/registry.hpp"
#include "core/flow_gate.hpp"
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
  /// The bytes its reader charged; released once the tracker answered the
  /// batch they became. Null = no bound.
  std::shared_ptr<flow_gate> gate;
  metrics::gauge* queued = nullptr;

  /// switchboard_ami_events_total{pbx,event} for one event name, with the
  /// count of the batch being parsed (added to the counter once per batch).
  struct event_slot {
    std::string name;
    metrics::counter* counter = nullptr;
    uint64_t pending = 0;
  };
  std::deque<event_slot> slots;
  /// Event name -> slot; the keys view into the slots' names.
  std::unordered_map<std::string_view, event_slot*> slot_index;
  /// Direct-mapped cache in front of slot_index: a few dozen names make up
  /// nearly all traffic, so most lookups are one compare.
  std::array<event_slot*, 256> recent{};
  event_slot* other_slot = nullptr;
  metrics::counter* rejected_malformed = nullptr;
  metrics::counter* rejected_not_event = nullptr;

  uint64_t events = 0;
  uint64_t rejected = 0;

  /// The slot counting events named `event_name`.
  event_slot& slot_for(std::string_view event_name);

  /// Adds the pending counts to the counters.
  void flush_counts();
};

ami_parser_actor::behavior_type
ami_parser(ami_parser_actor::stateful_pointer<ami_parser_state> self,
           std::string pbx, call_tracker_actor tracker,
           std::shared_ptr<flow_gate> gate);

/// Spawns a parser for the PBX named `pbx` that hands events to `tracker`
/// (which may be invalid: events are then counted and dropped).
/// With a `gate` (shared with the PBX's reader), the bytes of each batch
/// are released when the tracker answers it, i.e. applied its events and
/// has room downstream for the calls they completed: what waits between
/// socket and writer stays bounded by the gate.
ami_parser_actor spawn_ami_parser(caf::actor_system& sys, std::string pbx,
                                  call_tracker_actor tracker,
                                  std::shared_ptr<flow_gate> gate = nullptr);

} // namespace sb
