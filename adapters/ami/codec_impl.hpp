#pragma once

// Template part of frame_splitter (included by codec.hpp).
//
// The splitter works line by line: a '\n' ends a line, and an empty line (or
// one holding only "\r") ends a frame. The caller's bytes are scanned where
// they lie; only the unfinished tail of a feed is copied into buffer_, and the
// next feed appends just enough to finish that tail before going on in place.

#include <cstring>

namespace sb::ami {

template <class OnBanner, class OnFrame>
void frame_splitter::feed(std::string_view bytes, OnBanner&& on_banner,
                          OnFrame&& on_frame) {
  if (!buffer_.empty()) {
    size_t take = until_empty_line(bytes);
    buffer_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    size_t keep = scan(buffer_.data(), buffer_.size(), on_banner, on_frame);
    buffer_.erase(0, buffer_.size() - keep);
    if (!buffer_.empty()) {
      // Still unfinished (no empty line in these bytes, or an odd case like
      // an empty banner line): carry on the simple way.
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
size_t frame_splitter::scan(const char* data, size_t size,
                            OnBanner& on_banner, OnFrame& on_frame) {
  size_t line = line_;
  size_t frame = 0; // an open frame always starts the kept tail
  size_t pos = resume_;
  for (;;) {
    auto nl = static_cast<const char*>(
      std::memchr(data + pos, '\n', size - pos));
    if (nl == nullptr)
      break;
    size_t i = static_cast<size_t>(nl - data);
    size_t line_len = i - line;
    if (banner_pending_) {
      banner_pending_ = false;
      if (line_len > 0 && data[i - 1] == '\r')
        --line_len;
      on_banner(std::string_view{data + line, line_len});
    } else if (line_len == 0 || (line_len == 1 && data[line] == '\r')) {
      if (in_frame_) {
        if (!discarding_) {
          // The frame ends before its last line's line ending.
          size_t frame_end = line - 1;
          if (frame_end > frame && data[frame_end - 1] == '\r')
            --frame_end;
          on_frame(std::string_view{data + frame, frame_end - frame});
        }
        in_frame_ = false;
        discarding_ = false;
      }
    } else {
      if (!in_frame_) {
        in_frame_ = true;
        frame = line;
      }
      if (!discarding_ && i + 1 - frame > max_frame_bytes_) {
        // Too large: dropped whole, up to the next empty line, so one bad
        // frame can neither exhaust memory nor desynchronize the stream.
        discarding_ = true;
        ++errors_.oversized_frames;
      }
    }
    line = pos = i + 1;
  }
  size_t keep_from = line;
  if (banner_pending_) {
    if (size - line > max_frame_bytes_) {
      // An endless first line is no banner; report the start of it.
      banner_pending_ = false;
      on_banner(std::string_view{data + line, max_frame_bytes_});
      in_frame_ = true;
      discarding_ = true;
      ++errors_.oversized_frames;
    }
  } else if (in_frame_ && !discarding_) {
    if (size - frame > max_frame_bytes_) {
      discarding_ = true;
      ++errors_.oversized_frames;
    } else {
      keep_from = frame;
    }
  }
  // While discarding, two bytes of the partial line tell whether it will be
  // empty; the rest of the dropped frame is not kept.
  if (discarding_ && size - keep_from > 2)
    keep_from = size - 2;
  line_ = line > keep_from ? line - keep_from : 0;
  resume_ = size - keep_from;
  return size - keep_from;
}

} // namespace sb::ami
