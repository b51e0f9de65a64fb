#pragma once

// The AMI wire codec: splitting the byte stream into frames, parsing a frame
// into an ami_event, and writing actions. No I/O, no actors.
//
// Wire format (Asterisk's manager protocol): a banner line `Asterisk Call
// Manager/X.Y.Z\r\n`, then messages of `Key: Value\r\n` lines, each ended by an
// empty line.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/timestamp.hpp>

#include "messages/ami_event.hpp"

namespace sb::ami {

/// Counters of what the splitter / parser refused. Never reset implicitly.
struct codec_errors {
  /// Frames over the size limit, dropped whole (the stream resynchronizes at
  /// the next empty line).
  uint64_t oversized_frames = 0;
  /// Frames that did not parse (a line without a colon, no key, NUL bytes).
  uint64_t malformed_frames = 0;
};

/// Incremental frame splitter: feed bytes in any chunking, get whole frames.
/// Accepts CRLF (the protocol) and tolerates lone LF line ends.
class frame_splitter {
public:
  explicit frame_splitter(size_t max_frame_bytes = 64 * 1024);

  /// Appends `bytes` and calls `on_frame(std::string_view frame)` for each
  /// complete frame (without its terminating empty line). The view is only
  /// valid during the call. The banner line, when it comes first, is reported
  /// once through `on_banner(std::string_view)` instead.
  template <class OnBanner, class OnFrame>
  void feed(std::string_view bytes, OnBanner&& on_banner, OnFrame&& on_frame);

  /// Expect a banner line first (default true; false for tests that feed
  /// frames only).
  void expect_banner(bool value) noexcept;

  const codec_errors& errors() const noexcept;

  /// Bytes held for an incomplete frame.
  size_t buffered() const noexcept;

private:
  // Implementation detail exposed for the template; see codec_impl.hpp.
  /// The unfinished tail of earlier feeds: the open frame, or while
  /// discarding the last two bytes seen.
  std::string buffer_;
  /// How much of buffer_ was already searched for terminators.
  size_t resume_ = 0;
  size_t max_frame_bytes_;
  bool banner_pending_ = true;
  bool discarding_ = false;
  /// Skipping the rest of a banner line longer than max_frame_bytes_.
  bool discarding_banner_ = false;
  codec_errors errors_;

  /// Index in `bytes` just past the first frame terminator, given the tail
  /// in buffer_; bytes.size() when there is none.
  size_t until_terminator(std::string_view bytes) const noexcept;

  /// Splits data[0, size), which starts with the kept tail; returns how many
  /// bytes at its end must be kept for the next feed.
  template <class OnBanner, class OnFrame>
  size_t scan(const char* data, size_t size, OnBanner& on_banner,
              OnFrame& on_frame);
};

/// Parses one frame into `out` (pbx and received are set by the caller).
/// Returns false for a malformed frame and leaves `out` unspecified. Keys and
/// values are trimmed of the single space after the colon and of trailing CR.
bool parse_frame(std::string_view frame, ami_event& out);

/// Same, taking over the frame's storage (no copy of the text).
bool parse_frame(std::string&& frame, ami_event& out);

inline bool parse_frame(const char* frame, ami_event& out) {
  return parse_frame(std::string_view{frame}, out);
}

/// Writes an action. `action_id` must be unique per connection.
/// Values containing CR or LF are rejected (they would inject lines).
class action_writer {
public:
  /// Returns a fresh ActionID ("sb-<connection>-<n>").
  std::string next_action_id();

  explicit action_writer(std::string connection_tag = "0");

  /// `Action: <name>` + `ActionID` + fields + empty line. Returns false (and
  /// writes nothing) if a value would break framing.
  bool write(std::string& out, std::string_view action,
             std::string_view action_id,
             const std::vector<std::pair<std::string, std::string>>& fields);

private:
  std::string tag_;
  uint64_t counter_ = 0;
};

/// Lowercase hex MD5 of `challenge + secret`, the `Key` of an MD5 Login.
std::string md5_login_key(std::string_view challenge, std::string_view secret);

} // namespace sb::ami

#include "adapters/ami/codec_impl.hpp"
