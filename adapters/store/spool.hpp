#pragma once

// An append-only file of matched calls that the comms-log writer could not
// keep in memory while the database was unavailable. Records survive a
// restart: a writer that opens an existing spool sends its records again
// (inserts are idempotent, so records already committed change nothing).
//
// Format: a 12-byte header when it holds records (magic "SBSPOOL1", u32
// fingerprint of the matched_call serialization), then per record a
// little-endian u32 payload length, a u32 FNV-1a hash
// of the payload, then the payload (CAF binary serialization of
// matched_call). A record torn by a crash mid-append fails its length or hash
// check and is cut off when the spool is opened.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "messages/calls.hpp"

namespace sb::store {

class spool {
public:
  /// Opens (or creates) the spool at `path` and counts the records in it.
  /// A spool written by a build whose records have another shape is
  /// ec::invalid, never read as garbage: the file starts with a magic and a
  /// fingerprint of the record format.
  static caf::expected<std::unique_ptr<spool>> open(const std::string& path);

  ~spool();
  spool(const spool&) = delete;
  spool& operator=(const spool&) = delete;

  /// Appends `records` and fsyncs before returning: once this succeeds the
  /// records survive a crash. Refused whole (nothing written) when the file
  /// would grow past the size limit.
  caf::expected<void> append(const std::vector<matched_call>& records);

  /// Largest file size append() may reach; 0 = no limit.
  void set_limit(size_t bytes) noexcept {
    limit_ = bytes;
  }

  size_t limit() const noexcept {
    return limit_;
  }

  /// Size of the file: the records not yet consumed plus consumed ones at
  /// its head (the file is cut to zero once all are consumed).
  size_t bytes() const noexcept {
    return end_;
  }

  /// Reads up to `max` records from the head, without consuming them.
  caf::expected<std::vector<matched_call>> peek(size_t max);

  /// Drops the first `n` records returned by the last peek (after they were
  /// committed). An emptied spool is truncated to zero bytes.
  caf::expected<void> consume(size_t n);

  /// Records appended and not yet consumed.
  size_t depth() const noexcept {
    return depth_;
  }

  const std::string& path() const noexcept {
    return path_;
  }

private:
  spool(std::string path, int fd);

  std::string path_;
  int fd_ = -1;
  /// Byte offset of the first unconsumed record.
  size_t head_ = 0;
  /// Byte offset of the end of the last complete record.
  size_t end_ = 0;
  size_t depth_ = 0;
  size_t limit_ = 0;
  /// End offsets of the records returned by the last peek.
  std::vector<size_t> peeked_ends_;
};

} // namespace sb::store
