#include "adapters/metrics/registry.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

namespace sb::metrics {

namespace {

// std::atomic<double>::fetch_add is C++20; this is the C++17 equivalent.
void atomic_add(std::atomic<double>& target, double amount) noexcept {
  auto current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount,
                                       std::memory_order_relaxed,
                                       std::memory_order_relaxed)) {
    // `current` was reloaded by the failed exchange.
  }
}

} // namespace

// -- counter / gauge / histogram ----------------------------------------------

void counter::inc(double amount) noexcept {
  // A counter only goes up: Prometheus reads a decrease as a process restart.
  if (!(amount > 0))
    return;
  atomic_add(value_, amount);
}

double counter::value() const noexcept {
  return value_.load(std::memory_order_relaxed);
}

void gauge::set(double x) noexcept {
  value_.store(x, std::memory_order_relaxed);
}

void gauge::inc(double amount) noexcept {
  atomic_add(value_, amount);
}

void gauge::dec(double amount) noexcept {
  atomic_add(value_, -amount);
}

double gauge::value() const noexcept {
  return value_.load(std::memory_order_relaxed);
}

histogram::histogram(std::vector<double> upper_bounds)
  : bounds_(std::move(upper_bounds)) {
  // +Inf is implicit; a NaN or a trailing +Inf bound would render twice.
  bounds_.erase(std::remove_if(bounds_.begin(), bounds_.end(),
                               [](double b) { return !std::isfinite(b); }),
                bounds_.end());
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i)
    buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double x) noexcept {
  if (std::isnan(x))
    return;
  // Bucket i counts bounds_[i-1] < x <= bounds_[i] (Prometheus' `le`).
  auto index = static_cast<size_t>(
    std::lower_bound(bounds_.begin(), bounds_.end(), x) - bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, x);
  count_.fetch_add(1, std::memory_order_relaxed);
}

const std::vector<double>& histogram::upper_bounds() const noexcept {
  return bounds_;
}

std::vector<uint64_t> histogram::cumulative_counts() const {
  std::vector<uint64_t> result(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    result[i] = running;
  }
  return result;
}

double histogram::sum() const noexcept {
  return sum_.load(std::memory_order_relaxed);
}

uint64_t histogram::count() const noexcept {
  return count_.load(std::memory_order_relaxed);
}

std::vector<double> default_latency_buckets() {
  return {1e-6,   5e-6,  1e-5,  2.5e-5, 5e-5, 1e-4, 2.5e-4,
          5e-4,   1e-3,  2.5e-3, 5e-3,  1e-2, 2.5e-2, 5e-2,
          0.1,    0.25,  0.5,   1,      2.5,  5,    10};
}

// -- text format helpers ------------------------------------------------------

namespace {

enum class kind { counter, gauge, histogram };

const char* type_name(kind k) {
  switch (k) {
    case kind::counter:
      return "counter";
    case kind::gauge:
      return "gauge";
    default:
      return "histogram";
  }
}

bool valid_metric_name(const std::string& name) {
  if (name.empty())
    return false;
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    bool ok = std::isalpha(c) || c == '_' || c == ':'
              || (i > 0 && std::isdigit(c));
    if (!ok)
      return false;
  }
  return true;
}

bool valid_label_name(const std::string& name) {
  if (name.empty() || (name.size() >= 2 && name[0] == '_' && name[1] == '_'))
    return false;
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    bool ok = std::isalpha(c) || c == '_' || (i > 0 && std::isdigit(c));
    if (!ok)
      return false;
  }
  return true;
}

void append_escaped_label_value(std::string& out, const std::string& value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
}

std::string escape_help(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

void append_number(std::string& out, double x) {
  if (std::isnan(x)) {
    out += "NaN";
    return;
  }
  if (std::isinf(x)) {
    out += x > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  // Shortest text that reads back as the same double.
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), x);
  if (ec != std::errc{}) {
    auto n = std::snprintf(buf, sizeof(buf), "%.17g", x);
    out.append(buf, static_cast<size_t>(n));
    return;
  }
  out.append(buf, end);
}

/// A refused label set: "metric <metric>: <before><name><after>".
std::invalid_argument bad_labels(const std::string& metric,
                                 std::string_view before,
                                 std::string_view name = {},
                                 std::string_view after = {}) {
  std::string message = "metric ";
  message.append(metric).append(": ").append(before).append(name).append(
      after);
  return std::invalid_argument{message};
}

/// Labels sorted by name, so `{a,b}` and `{b,a}` are one series.
label_set normalized(const std::string& metric, label_set labels,
                     bool is_histogram) {
  std::sort(labels.begin(), labels.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto& name = labels[i].first;
    if (!valid_label_name(name))
      throw bad_labels(metric, "bad label name '", name, "'");
    if (is_histogram && name == "le")
      throw bad_labels(metric, "'le' is reserved in histograms");
    if (i > 0 && labels[i - 1].first == name)
      throw bad_labels(metric, "label '", name, "' given twice");
  }
  return labels;
}

/// `a="x",b="y"` (no braces), the series' identity within its family.
std::string render_labels(const label_set& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty())
      out.push_back(',');
    out += name;
    out += "=\"";
    append_escaped_label_value(out, value);
    out.push_back('"');
  }
  return out;
}

struct series {
  std::string labels; // rendered, without braces
  std::unique_ptr<counter> as_counter;
  std::unique_ptr<gauge> as_gauge;
  std::unique_ptr<histogram> as_histogram;
  std::shared_ptr<const std::function<double()>> read;
};

struct family {
  kind type;
  std::string help;
  std::map<std::string, series> by_labels;
};

/// What render() needs of one series, copied under the lock so that callbacks
/// and formatting run without it.
struct series_view {
  const std::string* labels;
  const counter* as_counter;
  const gauge* as_gauge;
  const histogram* as_histogram;
  std::shared_ptr<const std::function<double()>> read;
};

struct family_view {
  const std::string* name;
  const std::string* help;
  kind type;
  std::vector<series_view> members;
};

void append_sample(std::string& out, const std::string& name,
                   const char* suffix, const std::string& labels,
                   const std::string& extra_label, double value) {
  out += name;
  out += suffix;
  if (!labels.empty() || !extra_label.empty()) {
    out.push_back('{');
    out += labels;
    if (!labels.empty() && !extra_label.empty())
      out.push_back(',');
    out += extra_label;
    out.push_back('}');
  }
  out.push_back(' ');
  append_number(out, value);
  out.push_back('\n');
}

} // namespace

// -- registry -------------------------------------------------------------------

struct registry::impl {
  mutable std::mutex mtx;
  // Ordered by name: a stable, diff-friendly page. Nodes of std::map never
  // move, so references handed out stay valid.
  std::map<std::string, family> families;
  std::map<std::string, std::unique_ptr<actor_metrics>> actors;

  series& find_or_add(const std::string& name, const std::string& help,
                      kind type, const label_set& labels) {
    if (!valid_metric_name(name))
      throw std::invalid_argument("bad metric name '" + name + "'");
    auto key = render_labels(normalized(name, labels, type == kind::histogram));
    auto [fam, fresh] = families.try_emplace(name);
    if (fresh) {
      fam->second.type = type;
      fam->second.help = help;
    } else if (fam->second.type != type) {
      throw std::logic_error("metric " + name + " is a "
                             + type_name(fam->second.type) + ", not a "
                             + type_name(type));
    }
    auto [entry, added] = fam->second.by_labels.try_emplace(key);
    if (added)
      entry->second.labels = key;
    return entry->second;
  }
};

registry::registry() : impl_(std::make_unique<impl>()) {
  // nop
}

registry::~registry() = default;

counter& registry::get_counter(const std::string& name,
                               const std::string& help,
                               const label_set& labels) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto& s = impl_->find_or_add(name, help, kind::counter, labels);
  if (s.read)
    throw std::logic_error("metric " + name + " is a callback counter");
  if (!s.as_counter)
    s.as_counter = std::make_unique<counter>();
  return *s.as_counter;
}

gauge& registry::get_gauge(const std::string& name, const std::string& help,
                           const label_set& labels) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto& s = impl_->find_or_add(name, help, kind::gauge, labels);
  if (s.read)
    throw std::logic_error("metric " + name + " is a callback gauge");
  if (!s.as_gauge)
    s.as_gauge = std::make_unique<gauge>();
  return *s.as_gauge;
}

histogram& registry::get_histogram(const std::string& name,
                                   const std::string& help,
                                   const label_set& labels,
                                   std::vector<double> upper_bounds) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto& s = impl_->find_or_add(name, help, kind::histogram, labels);
  if (!s.as_histogram)
    s.as_histogram = std::make_unique<histogram>(std::move(upper_bounds));
  return *s.as_histogram;
}

void registry::add_callback_gauge(const std::string& name,
                                  const std::string& help,
                                  const label_set& labels,
                                  std::function<double()> read) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto& s = impl_->find_or_add(name, help, kind::gauge, labels);
  if (s.as_gauge)
    throw std::logic_error("metric " + name + " already has a set() gauge");
  s.read = std::make_shared<const std::function<double()>>(std::move(read));
}

void registry::add_callback_counter(const std::string& name,
                                    const std::string& help,
                                    const label_set& labels,
                                    std::function<double()> read) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto& s = impl_->find_or_add(name, help, kind::counter, labels);
  if (s.as_counter)
    throw std::logic_error("metric " + name + " already has an inc() counter");
  s.read = std::make_shared<const std::function<double()>>(std::move(read));
}

actor_metrics& registry::actor(const std::string& actor_name) {
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    auto i = impl_->actors.find(actor_name);
    if (i != impl_->actors.end())
      return *i->second;
  }
  label_set labels{{"actor", actor_name}};
  auto entry = std::make_unique<actor_metrics>();
  entry->messages_handled = &get_counter(
    "switchboard_actor_messages_total", "Messages handled by an actor.", labels);
  entry->message_seconds = &get_histogram(
    "switchboard_actor_message_seconds",
    "Seconds an actor spent handling one message.", labels);
  entry->mailbox_depth = &get_gauge(
    "switchboard_actor_mailbox_depth",
    "Messages waiting in an actor's mailbox when it last started one.",
    labels);
  entry->restarts = &get_counter("switchboard_actor_restarts_total",
                                 "Times a supervisor restarted an actor.",
                                 labels);
  std::lock_guard<std::mutex> guard{impl_->mtx};
  // Another thread may have raced us here; its entry points at the same
  // series, so either one will do.
  auto [i, added] = impl_->actors.try_emplace(actor_name, std::move(entry));
  return *i->second;
}

std::string registry::render() const {
  std::vector<family_view> snapshot;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    snapshot.reserve(impl_->families.size());
    for (const auto& [name, fam] : impl_->families) {
      family_view view{&name, &fam.help, fam.type, {}};
      view.members.reserve(fam.by_labels.size());
      for (const auto& [key, s] : fam.by_labels)
        view.members.push_back({&s.labels, s.as_counter.get(),
                                s.as_gauge.get(), s.as_histogram.get(),
                                s.read});
      snapshot.push_back(std::move(view));
    }
  }
  // Strings and metric objects in the snapshot are never destroyed or moved
  // while the registry lives, so reading them unlocked is safe.
  std::string out;
  out.reserve(256 * snapshot.size());
  std::string le;
  for (const auto& fam : snapshot) {
    if (fam.members.empty())
      continue;
    const auto& name = *fam.name;
    out += "# HELP ";
    out += name;
    out.push_back(' ');
    out += escape_help(*fam.help);
    out += "\n# TYPE ";
    out += name;
    out.push_back(' ');
    out += type_name(fam.type);
    out.push_back('\n');
    for (const auto& s : fam.members) {
      if (s.read) {
        double value = 0;
        try {
          value = (*s.read)();
        } catch (...) {
          value = std::nan("");
        }
        append_sample(out, name, "", *s.labels, {}, value);
      } else if (s.as_counter) {
        append_sample(out, name, "", *s.labels, {}, s.as_counter->value());
      } else if (s.as_gauge) {
        append_sample(out, name, "", *s.labels, {}, s.as_gauge->value());
      } else if (s.as_histogram) {
        const auto& bounds = s.as_histogram->upper_bounds();
        auto counts = s.as_histogram->cumulative_counts();
        for (size_t i = 0; i < counts.size(); ++i) {
          le = "le=\"";
          if (i < bounds.size())
            append_number(le, bounds[i]);
          else
            le += "+Inf";
          le.push_back('"');
          append_sample(out, name, "_bucket", *s.labels, le,
                        static_cast<double>(counts[i]));
        }
        append_sample(out, name, "_sum", *s.labels, {},
                      s.as_histogram->sum());
        // _count equals the +Inf bucket of this same read, so the page is
        // consistent even while observations race with the scrape.
        append_sample(out, name, "_count", *s.labels, {},
                      static_cast<double>(counts.back()));
      }
    }
  }
  return out;
}

// -- global registry and process metrics ------------------------------------------

registry& global() {
  // Never destroyed: actors may still report while static destructors run.
  static registry* instance = [] {
    auto reg = new registry;
    register_process_metrics(*reg);
    return reg;
  }();
  return *instance;
}

namespace {

/// Fields of /proc/self/stat after the command name (which may hold spaces
/// and parentheses): index 0 is field 3 ("state").
std::vector<std::string> read_self_stat() {
  std::ifstream in{"/proc/self/stat"};
  std::string text{std::istreambuf_iterator<char>{in},
                   std::istreambuf_iterator<char>{}};
  std::vector<std::string> fields;
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return fields;
  std::istringstream rest{text.substr(close + 1)};
  std::string field;
  while (rest >> field)
    fields.push_back(field);
  return fields;
}

double stat_field(size_t field_number) {
  // field_number as in proc(5), 1-based; our vector starts at field 3.
  auto fields = read_self_stat();
  if (field_number < 3 || fields.size() <= field_number - 3)
    return std::nan("");
  return std::strtod(fields[field_number - 3].c_str(), nullptr);
}

double clock_ticks() {
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return ticks;
}

double boot_time_seconds() {
  std::ifstream in{"/proc/stat"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("btime ", 0) == 0)
      return std::strtod(line.c_str() + 6, nullptr);
  return std::nan("");
}

double open_fds() {
  auto dir = ::opendir("/proc/self/fd");
  if (dir == nullptr)
    return std::nan("");
  double count = 0;
  while (auto entry = ::readdir(dir))
    if (entry->d_name[0] != '.')
      ++count;
  ::closedir(dir);
  return count - 1; // the directory stream's own descriptor
}

} // namespace

void register_process_metrics(registry& reg) {
  reg.add_callback_counter(
    "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
    {}, [] {
      // utime (14) + stime (15), in clock ticks.
      auto fields = read_self_stat();
      if (fields.size() < 13)
        return std::nan("");
      return (std::strtod(fields[11].c_str(), nullptr)
              + std::strtod(fields[12].c_str(), nullptr))
             / clock_ticks();
    });
  reg.add_callback_gauge("process_resident_memory_bytes",
                         "Resident memory size in bytes.", {}, [] {
                           static const double page
                             = static_cast<double>(::sysconf(_SC_PAGESIZE));
                           return stat_field(24) * page;
                         });
  reg.add_callback_gauge("process_virtual_memory_bytes",
                         "Virtual memory size in bytes.", {},
                         [] { return stat_field(23); });
  // Fixed for the process's life: computed once.
  static const double start_time = boot_time_seconds()
                                   + stat_field(22) / clock_ticks();
  reg.add_callback_gauge("process_start_time_seconds",
                         "Start time of the process since unix epoch in "
                         "seconds.",
                         {}, [] { return start_time; });
  reg.add_callback_gauge("process_open_fds", "Number of open file descriptors.",
                         {}, [] { return open_fds(); });
  reg.add_callback_gauge("process_max_fds",
                         "Maximum number of open file descriptors.", {}, [] {
                           struct rlimit limit {};
                           if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
                             return std::nan("");
                           if (limit.rlim_cur == RLIM_INFINITY)
                             return std::numeric_limits<double>::infinity();
                           return static_cast<double>(limit.rlim_cur);
                         });
}

// -- message_probe ----------------------------------------------------------------

namespace {

int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

} // namespace

message_probe::message_probe(actor_metrics& m, size_t mailbox_depth) noexcept
  : metrics_(m), start_ns_(steady_now_ns()) {
  if (metrics_.mailbox_depth != nullptr)
    metrics_.mailbox_depth->set(static_cast<double>(mailbox_depth));
}

message_probe::~message_probe() {
  auto elapsed = static_cast<double>(steady_now_ns() - start_ns_) * 1e-9;
  if (metrics_.message_seconds != nullptr)
    metrics_.message_seconds->observe(elapsed);
  if (metrics_.messages_handled != nullptr)
    metrics_.messages_handled->inc();
}

} // namespace sb::metrics
