// The AMI frame splitter: any byte stream, cut anywhere, gives the same
// banner and frames as the stream fed whole, and never holds more than its
// frame limit.

#include <string>
#include <vector>

#include "adapters/ami/codec.hpp"
#include "adapters/ami/codec_impl.hpp"
#include "fuzz/fuzz.hpp"

namespace {

constexpr size_t frame_limit = 4096;

struct split_result {
  std::vector<std::string> banners;
  std::vector<std::string> frames;
  sb::ami::codec_errors errors;
};

split_result split(std::string_view bytes, size_t cut) {
  sb::ami::frame_splitter splitter{frame_limit};
  split_result out;
  auto on_banner = [&](std::string_view x) { out.banners.emplace_back(x); };
  auto on_frame = [&](std::string_view x) {
    sb::fuzz::require(x.size() <= frame_limit, "frame above the limit");
    out.frames.emplace_back(x);
  };
  splitter.feed(bytes.substr(0, cut), on_banner, on_frame);
  sb::fuzz::require(splitter.buffered() <= frame_limit + 4,
                    "splitter holds more than a frame");
  splitter.feed(bytes.substr(cut), on_banner, on_frame);
  sb::fuzz::require(splitter.buffered() <= frame_limit + 4,
                    "splitter holds more than a frame");
  out.errors = splitter.errors();
  return out;
}

} // namespace

SB_FUZZ_TARGET(input) {
  if (input.empty())
    return;
  // The first byte picks where the stream is cut in two.
  auto cut = static_cast<size_t>(static_cast<unsigned char>(input[0]));
  auto bytes = input.substr(1);
  cut = bytes.empty() ? 0 : cut % (bytes.size() + 1);
  auto whole = split(bytes, bytes.size());
  auto cut_once = split(bytes, cut);
  sb::fuzz::require(whole.banners == cut_once.banners,
                    "banner depends on where the stream was cut");
  sb::fuzz::require(whole.frames == cut_once.frames,
                    "frames depend on where the stream was cut");
  sb::fuzz::require(whole.errors.oversized_frames
                      == cut_once.errors.oversized_frames,
                    "oversized count depends on where the stream was cut");
}
