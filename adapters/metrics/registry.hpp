#pragma once

// Process-wide metrics registry with a Prometheus text writer.
//
// CAF 0.17 has no metrics API, so every actor reports through this registry.
// Metric objects are created once (under a lock) and then updated lock-free on
// hot paths; references stay valid for the registry's lifetime.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sb::metrics {

using label_set = std::vector<std::pair<std::string, std::string>>;

class counter {
public:
  void inc(double amount = 1.0) noexcept;
  double value() const noexcept;

private:
  std::atomic<double> value_{0.0};
};

class gauge {
public:
  void set(double x) noexcept;
  void inc(double amount = 1.0) noexcept;
  void dec(double amount = 1.0) noexcept;
  double value() const noexcept;

private:
  std::atomic<double> value_{0.0};
};

class histogram {
public:
  /// `upper_bounds` ascending; +Inf is implicit.
  explicit histogram(std::vector<double> upper_bounds);
  void observe(double x) noexcept;
  const std::vector<double>& upper_bounds() const noexcept;
  /// Cumulative counts per bound (last = +Inf), sum and count.
  std::vector<uint64_t> cumulative_counts() const;
  double sum() const noexcept;
  uint64_t count() const noexcept;

private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

/// Seconds buckets for per-message processing time (1 us .. 10 s).
std::vector<double> default_latency_buckets();

/// The standard per-actor series, all labelled `actor="<name>"`.
struct actor_metrics {
  counter* messages_handled = nullptr; // switchboard_actor_messages_total
  histogram* message_seconds = nullptr; // switchboard_actor_message_seconds
  gauge* mailbox_depth = nullptr;      // switchboard_actor_mailbox_depth
  counter* restarts = nullptr;         // switchboard_actor_restarts_total
};

class registry {
public:
  registry();
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// Returns the series `name{labels}`, creating family and series on first
  /// use. The same name must always be used with the same kind.
  counter& get_counter(const std::string& name, const std::string& help,
                       const label_set& labels = {});
  gauge& get_gauge(const std::string& name, const std::string& help,
                   const label_set& labels = {});
  histogram& get_histogram(const std::string& name, const std::string& help,
                           const label_set& labels = {},
                           std::vector<double> upper_bounds
                           = default_latency_buckets());

  /// A gauge read at scrape time (process metrics, queue sizes owned
  /// elsewhere). The callback must be cheap and thread-safe.
  void add_callback_gauge(const std::string& name, const std::string& help,
                          const label_set& labels,
                          std::function<double()> read);

  /// A counter read at scrape time (e.g. process_cpu_seconds_total: a
  /// monotonic value owned elsewhere). Same rules as add_callback_gauge.
  /// Registering the same name and labels again replaces the callback.
  void add_callback_counter(const std::string& name, const std::string& help,
                            const label_set& labels,
                            std::function<double()> read);

  /// The per-actor series for `actor_name`.
  actor_metrics& actor(const std::string& actor_name);

  /// Prometheus text exposition format 0.0.4.
  std::string render() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The registry every actor reports to.
registry& global();

/// Registers process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_start_time_seconds,
/// process_open_fds, process_max_fds (read from /proc at scrape time).
/// global() already does this for itself; calling it again is harmless.
void register_process_metrics(registry& reg);

/// RAII probe for one handled message: counts it, records how long the
/// handler took and the mailbox depth seen when it started.
class message_probe {
public:
  message_probe(actor_metrics& m, size_t mailbox_depth) noexcept;
  ~message_probe();
  message_probe(const message_probe&) = delete;
  message_probe& operator=(const message_probe&) = delete;

private:
  actor_metrics& metrics_;
  int64_t start_ns_;
};

} // namespace sb::metrics
