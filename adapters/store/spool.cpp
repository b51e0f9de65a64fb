#include "adapters/store/spool.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/sec.hpp>

#include "core/error.hpp"
#include "core/log.hpp"

namespace sb::store {

namespace {

constexpr size_t header_size = 8;
// Larger than any matched_call we produce; a bigger length means garbage.
constexpr uint32_t max_record_size = 1 << 20;

// A spool that holds records starts with the magic and the record format
// of the build that wrote it; an empty spool is an empty file.
constexpr char file_magic[8] = {'S', 'B', 'S', 'P', 'O', 'O', 'L', '1'};
constexpr size_t file_header_size = sizeof(file_magic) + 4;
/// Bumped when a field of matched_call changes meaning without changing
/// the shape of its serialization.
constexpr uint32_t record_format_version = 1;

uint32_t fnv1a(const char* data, size_t size) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 16777619u;
  }
  return h;
}

void put_u32(std::vector<char>& out, uint32_t x) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

uint32_t get_u32(const char* p) {
  uint32_t x = 0;
  for (int i = 3; i >= 0; --i)
    x = (x << 8) | static_cast<unsigned char>(p[i]);
  return x;
}

// The shape of a serialized matched_call: a field added, removed or
// retyped changes the bytes of a default record, and with them this value.
uint32_t record_format() {
  std::vector<char> bytes;
  caf::binary_serializer sink{nullptr, bytes};
  matched_call sample;
  [[maybe_unused]] auto err = sink(sample);
  auto h = fnv1a(bytes.data(), bytes.size());
  return h ^ (record_format_version * 16777619u);
}

caf::error io_error(const std::string& what, const std::string& path) {
  return caf::make_error(ec::unavailable, "spool " + path + ": " + what
                                                      + ": "
                                                      + std::strerror(errno));
}

bool read_exact(int fd, size_t offset, char* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    auto got
        = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

// Reads the record at `offset`; returns its end offset, or 0 when there is
// no complete, intact record there.
size_t read_record(int fd, size_t offset, size_t file_size,
                   std::vector<char>& payload) {
  if (offset + header_size > file_size)
    return 0;
  char header[header_size];
  if (!read_exact(fd, offset, header, header_size))
    return 0;
  auto length = get_u32(header);
  auto hash = get_u32(header + 4);
  if (length == 0 || length > max_record_size
      || offset + header_size + length > file_size)
    return 0;
  payload.resize(length);
  if (!read_exact(fd, offset + header_size, payload.data(), length))
    return 0;
  if (fnv1a(payload.data(), length) != hash)
    return 0;
  return offset + header_size + length;
}

// "" when the file starts with this build's header; else why it cannot be
// read by this build.
caf::error check_file_header(int fd, const std::string& path,
                             size_t file_size) {
  char header[file_header_size];
  if (file_size < file_header_size
      || !read_exact(fd, 0, header, file_header_size)
      || std::memcmp(header, file_magic, sizeof(file_magic)) != 0)
    return caf::make_error(
        ec::invalid, "spool " + path
                       + " was not written by this version of switchboard"
                         " (no spool header)");
  auto format = get_u32(header + sizeof(file_magic));
  if (format != record_format())
    return caf::make_error(
        ec::invalid, "spool " + path + " holds records of another build"
                       " (record format " + std::to_string(format)
                       + ", this build " + std::to_string(record_format())
                       + ")");
  return {};
}

} // namespace

spool::spool(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
  // nop
}

spool::~spool() {
  if (fd_ >= 0)
    ::close(fd_);
}

caf::expected<std::unique_ptr<spool>> spool::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return io_error("cannot open", path);
  std::unique_ptr<spool> s{new spool(path, fd)};
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return io_error("cannot stat", path);
  auto file_size = static_cast<size_t>(st.st_size);
  size_t offset = 0;
  if (file_size > 0 && file_size < file_header_size) {
    // A first append torn inside its header: no record was complete.
    if (::ftruncate(fd, 0) != 0)
      return io_error("cannot truncate", path);
    file_size = 0;
  }
  if (file_size > 0) {
    if (auto err = check_file_header(fd, path, file_size))
      return err;
    offset = file_header_size;
  }
  s->head_ = offset;
  std::vector<char> payload;
  while (auto next = read_record(fd, offset, file_size, payload)) {
    offset = next;
    ++s->depth_;
  }
  if (offset != file_size) {
    log::warning("comms_log_writer", "spool has a torn record at its end",
                 {{"path", path},
                  {"bytes_dropped", std::to_string(file_size - offset)}});
    if (::ftruncate(fd, static_cast<off_t>(offset)) != 0)
      return io_error("cannot truncate", path);
  }
  s->end_ = offset;
  return s;
}

caf::expected<void> spool::append(const std::vector<matched_call>& records) {
  if (records.empty())
    return caf::unit;
  std::vector<char> out;
  std::vector<char> payload;
  for (const auto& record : records) {
    payload.clear();
    caf::binary_serializer sink{nullptr, payload};
    auto copy = record;
    if (auto err = sink(copy))
      return caf::make_error(ec::unavailable,
                             "spool: cannot serialize a record");
    put_u32(out, static_cast<uint32_t>(payload.size()));
    put_u32(out, fnv1a(payload.data(), payload.size()));
    out.insert(out.end(), payload.begin(), payload.end());
  }
  if (end_ == 0) {
    std::vector<char> header(file_magic, file_magic + sizeof(file_magic));
    put_u32(header, record_format());
    out.insert(out.begin(), header.begin(), header.end());
  }
  if (limit_ > 0 && end_ + out.size() > limit_)
    return caf::make_error(
        sb::ec::unavailable,
        "spool " + path_ + " is full: " + std::to_string(end_) + " of "
            + std::to_string(limit_) + " bytes used, "
            + std::to_string(records.size())
            + " records do not fit (raise db.spool_max_mb or restore the "
              "database)");
  size_t done = 0;
  while (done < out.size()) {
    auto n = ::pwrite(fd_, out.data() + done, out.size() - done,
                      static_cast<off_t>(end_ + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      auto err = io_error("cannot write", path_);
      // Leave no partial record behind (disk full): the next append starts
      // at a record boundary.
      [[maybe_unused]] auto rc = ::ftruncate(fd_, static_cast<off_t>(end_));
      return err;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0) {
    auto err = io_error("cannot fsync", path_);
    [[maybe_unused]] auto rc = ::ftruncate(fd_, static_cast<off_t>(end_));
    return err;
  }
  if (end_ == 0)
    head_ = file_header_size;
  end_ += out.size();
  depth_ += records.size();
  return caf::unit;
}

caf::expected<std::vector<matched_call>> spool::peek(size_t max) {
  std::vector<matched_call> out;
  peeked_ends_.clear();
  std::vector<char> payload;
  size_t offset = head_;
  while (out.size() < max && offset < end_) {
    auto next = read_record(fd_, offset, end_, payload);
    if (next == 0)
      return caf::make_error(ec::unavailable,
                             "spool " + path_ + ": unreadable record at byte "
                                 + std::to_string(offset));
    matched_call record;
    caf::binary_deserializer source{nullptr, payload.data(), payload.size()};
    if (auto err = source(record))
      return caf::make_error(ec::unavailable,
                             "spool " + path_ + ": undecodable record at byte "
                                 + std::to_string(offset));
    out.push_back(std::move(record));
    peeked_ends_.push_back(next);
    offset = next;
  }
  return out;
}

caf::expected<void> spool::consume(size_t n) {
  if (n == 0)
    return caf::unit;
  if (n > peeked_ends_.size())
    return caf::make_error(ec::invalid,
                           "spool: consuming more records than peeked");
  head_ = peeked_ends_[n - 1];
  depth_ -= n;
  peeked_ends_.erase(peeked_ends_.begin(),
                     peeked_ends_.begin() + static_cast<ptrdiff_t>(n));
  if (depth_ == 0) {
    // Everything is in the database: start over with an empty file so the
    // spool never grows across outages.
    if (::ftruncate(fd_, 0) != 0)
      return io_error("cannot truncate", path_);
    head_ = end_ = 0;
    peeked_ends_.clear();
  }
  return caf::unit;
}

} // namespace sb::store
