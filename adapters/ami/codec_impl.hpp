#pragma once

// Template part of frame_splitter (included by codec.hpp).

#include <cstring>

namespace sb::ami {

template <class OnBanner, class OnFrame>
void frame_splitter::feed(std::string_view bytes, OnBanner&& on_banner,
                          OnFrame&& on_frame) {
  buffer_.append(bytes.data(), bytes.size());
  drain(on_banner, on_frame);
}

template <class OnBanner, class OnFrame>
void frame_splitter::drain(OnBanner& on_banner, OnFrame& on_frame) {
  const char* data = buffer_.data();
  const size_t size = buffer_.size();
  size_t start = 0;          // first byte of the current frame
  size_t pos = scan_from_;   // where the search for '\n' resumes
  for (;;) {
    if (banner_pending_) {
      auto nl = static_cast<const char*>(
        std::memchr(data + pos, '\n', size - pos));
      if (nl == nullptr) {
        pos = size;
        break;
      }
      size_t end = static_cast<size_t>(nl - data);
      size_t len = end - start;
      if (len > 0 && data[start + len - 1] == '\r')
        --len;
      banner_pending_ = false;
      on_banner(std::string_view{data + start, len});
      start = pos = end + 1;
      continue;
    }
    // Empty lines between frames carry nothing.
    while (start < size && (data[start] == '\n' || data[start] == '\r')) {
      if (data[start] == '\r' && (start + 1 >= size || data[start + 1] != '\n'))
        break;
      ++start;
    }
    if (pos < start)
      pos = start;
    auto nl = static_cast<const char*>(
      std::memchr(data + pos, '\n', size - pos));
    if (nl == nullptr) {
      pos = size;
      break;
    }
    size_t i = static_cast<size_t>(nl - data);
    // Does an empty line follow? Needs up to two more bytes to decide.
    size_t terminator_end = 0;
    if (i + 1 < size && data[i + 1] == '\n')
      terminator_end = i + 2;
    else if (i + 2 < size && data[i + 1] == '\r' && data[i + 2] == '\n')
      terminator_end = i + 3;
    else if (i + 1 >= size || (i + 2 >= size && data[i + 1] == '\r')) {
      pos = i; // undecided: look again when more bytes arrive
      break;
    }
    if (terminator_end == 0) {
      pos = i + 1;
      if (pos - start > max_frame_bytes_ && !discarding_) {
        // Too large: drop what we have and everything up to the next empty
        // line, so one bad frame cannot exhaust memory or desync the stream.
        discarding_ = true;
        ++errors_.oversized_frames;
      }
      if (discarding_)
        start = pos;
      continue;
    }
    size_t len = i - start;
    if (len > 0 && data[i - 1] == '\r')
      --len;
    if (discarding_) {
      discarding_ = false;
    } else if (len > max_frame_bytes_) {
      ++errors_.oversized_frames;
    } else if (len > 0) {
      on_frame(std::string_view{data + start, len});
    }
    start = pos = terminator_end;
  }
  if (discarding_ && start < size) {
    // Keep only a possible partial terminator of the frame being dropped.
    size_t keep_from = size > 2 ? size - 2 : 0;
    if (keep_from > start)
      start = keep_from;
  }
  if (start > 0) {
    buffer_.erase(0, start);
    pos -= start;
  }
  scan_from_ = pos;
}

} // namespace sb::ami
