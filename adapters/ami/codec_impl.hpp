#pragma once

// Template part of frame_splitter (included by codec.hpp).
//
// A frame ends with an empty line: a '\n' preceded by "\n" or "\n\r". The
// splitter looks only for those terminators (vectorized, 64 bytes at a time),
// not for every line. The caller's bytes are scanned where they lie; only the
// unfinished tail of a feed is copied into buffer_, and the next feed appends
// just enough to finish it before going on in place.

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace sb::ami {

namespace detail {

/// Bytes searched per find_terminators call.
constexpr size_t terminator_window = 4096;

/// Writes to `out` the offset (relative to `from`) of every '\n' in
/// data[from, end) that ends an empty line, in order; returns how many.
/// end - from <= terminator_window. Bytes before data[0] count as '\n': the
/// data starts at a line start. Uses AVX2 where the CPU has it.
size_t find_terminators(const char* data, size_t from, size_t end,
                        uint16_t* out) noexcept;

} // namespace detail

template <class OnBanner, class OnFrame>
void frame_splitter::feed(std::string_view bytes, OnBanner&& on_banner,
                          OnFrame&& on_frame) {
  // Nothing new cannot finish anything; and an empty view may carry a null
  // pointer, which memchr must never see (even with a length of 0).
  if (bytes.empty())
    return;
  if (!buffer_.empty()) {
    size_t take = until_terminator(bytes);
    buffer_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    size_t keep = scan(buffer_.data(), buffer_.size(), on_banner, on_frame);
    buffer_.erase(0, buffer_.size() - keep);
    if (!buffer_.empty()) {
      // Still unfinished (no terminator in these bytes, or a banner still
      // pending): carry on the simple way.
      if (!bytes.empty()) {
        buffer_.append(bytes.data(), bytes.size());
        keep = scan(buffer_.data(), buffer_.size(), on_banner, on_frame);
        buffer_.erase(0, buffer_.size() - keep);
      }
      return;
    }
  }
  if (bytes.empty())
    return;
  size_t keep = scan(bytes.data(), bytes.size(), on_banner, on_frame);
  buffer_.assign(bytes.data() + bytes.size() - keep, keep);
}

template <class OnBanner, class OnFrame>
size_t frame_splitter::scan(const char* data, size_t size, OnBanner& on_banner,
                            OnFrame& on_frame) {
  size_t frame = 0; // the open frame always starts the kept tail
  size_t pos = resume_;
  if (discarding_banner_) {
    // The rest of an over-long banner line: it ends at its own line end,
    // not at an empty line, so the frame after it is kept.
    auto nl
        = static_cast<const char*>(std::memchr(data + pos, '\n', size - pos));
    if (nl == nullptr) {
      resume_ = 0;
      return 0;
    }
    discarding_banner_ = false;
    frame = pos = static_cast<size_t>(nl - data) + 1;
  }
  if (banner_pending_) {
    auto nl
        = static_cast<const char*>(std::memchr(data + pos, '\n', size - pos));
    if (nl == nullptr) {
      if (size <= max_frame_bytes_) {
        resume_ = size;
        return size;
      }
      // An endless first line is no banner; report the start of it.
      banner_pending_ = false;
      on_banner(std::string_view{data, max_frame_bytes_});
      discarding_banner_ = true;
      ++errors_.oversized_frames;
      resume_ = 0;
      return 0;
    }
    size_t end = static_cast<size_t>(nl - data);
    banner_pending_ = false;
    on_banner(std::string_view{data, end > 0 && data[end - 1] == '\r' ? end - 1
                                                                      : end});
    frame = pos = end + 1;
  }
  uint16_t found[detail::terminator_window];
  for (size_t window = pos; window < size;
       window += detail::terminator_window) {
    size_t window_end = std::min(window + detail::terminator_window, size);
    size_t n = detail::find_terminators(data, window, window_end, found);
    for (size_t k = 0; k < n; ++k) {
      size_t j = window + found[k]; // the '\n' of the empty line
      if (discarding_) {
        discarding_ = false;
      } else if (j - frame >= 2) {
        // The frame's last line ends at the '\n' before the empty line.
        size_t last_nl = data[j - 1] == '\n' ? j - 1 : j - 2;
        if (last_nl + 1 - frame > max_frame_bytes_) {
          ++errors_.oversized_frames;
        } else {
          size_t end = last_nl;
          if (end > frame && data[end - 1] == '\r')
            --end;
          if (end > frame)
            on_frame(std::string_view{data + frame, end - frame});
        }
      }
      // Else an empty line between frames: nothing to report.
      frame = j + 1;
    }
  }
  size_t keep_from = frame;
  // The open frame is sure to be too large once it exceeds the limit by
  // more than the '\r' that may start its terminator.
  if (!discarding_ && size - frame > max_frame_bytes_ + 1) {
    // Too large: dropped whole, up to the next terminator, so one bad frame
    // can neither exhaust memory nor desynchronize the stream.
    discarding_ = true;
    ++errors_.oversized_frames;
  }
  if (discarding_) {
    // The last two bytes are all a terminator search needs to resume.
    keep_from = size >= 2 ? size - 2 : 0;
  }
  resume_ = size - keep_from;
  return size - keep_from;
}

} // namespace sb::ami
