#include "adapters/ami/codec.hpp"

#include <openssl/evp.h>

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sb::ami {

frame_splitter::frame_splitter(size_t max_frame_bytes)
    : max_frame_bytes_(max_frame_bytes) {}

void frame_splitter::expect_banner(bool value) noexcept {
  banner_pending_ = value;
}

const codec_errors& frame_splitter::errors() const noexcept {
  return errors_;
}

size_t frame_splitter::buffered() const noexcept {
  return buffer_.size();
}

size_t frame_splitter::until_terminator(std::string_view bytes) const noexcept {
  // The byte `back` places before bytes[0]: from the tail, or '\n' before it
  // (the tail starts at a line start).
  auto before = [&](size_t back) {
    return back <= buffer_.size() ? buffer_[buffer_.size() - back] : '\n';
  };
  const char* data = bytes.data();
  size_t start = 0;
  for (;;) {
    if (start >= bytes.size())
      return bytes.size();
    auto nl = static_cast<const char*>(
        std::memchr(data + start, '\n', bytes.size() - start));
    if (nl == nullptr)
      return bytes.size();
    size_t j = static_cast<size_t>(nl - data);
    char p1 = j >= 1 ? data[j - 1] : before(1);
    char p2 = j >= 2 ? data[j - 2] : before(2 - j);
    if (p1 == '\n' || (p1 == '\r' && p2 == '\n'))
      return j + 1;
    start = j + 1;
  }
}

namespace {

/// Bit i set where block[i] is '\n', ':' or NUL, for 64 bytes.
struct line_marks {
  uint64_t newline = 0;
  uint64_t colon = 0;
  uint64_t nul = 0;
};

/// '\n' and '\r' bits of 64 bytes.
struct line_end_marks {
  uint64_t newline = 0;
  uint64_t cr = 0;
};

#if defined(__x86_64__)
#define SB_AMI_AVX2 1

__attribute__((target("avx2"))) inline uint64_t
byte_mask_avx2(__m256i lo, __m256i hi, char c) {
  const __m256i needle = _mm256_set1_epi8(c);
  return static_cast<uint64_t>(static_cast<uint32_t>(
             _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, needle))))
         | static_cast<uint64_t>(static_cast<uint32_t>(
               _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, needle))))
               << 32;
}

__attribute__((target("avx2"))) inline line_marks
find_marks_avx2(const char* block) {
  auto lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block));
  auto hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32));
  return {byte_mask_avx2(lo, hi, '\n'), byte_mask_avx2(lo, hi, ':'),
          byte_mask_avx2(lo, hi, '\0')};
}

__attribute__((target("avx2"))) inline line_end_marks
line_ends_avx2(const char* block) {
  auto lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block));
  auto hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32));
  return {byte_mask_avx2(lo, hi, '\n'), byte_mask_avx2(lo, hi, '\r')};
}
#endif

#if defined(__SSE2__)
inline uint64_t byte_mask_sse2(const __m128i* v, char c) {
  const __m128i needle = _mm_set1_epi8(c);
  uint64_t result = 0;
  for (int k = 0; k < 4; ++k)
    result |= static_cast<uint64_t>(static_cast<uint32_t>(
                  _mm_movemask_epi8(_mm_cmpeq_epi8(v[k], needle))))
              << (16 * k);
  return result;
}

inline line_marks find_marks_portable(const char* block) {
  __m128i v[4];
  for (int k = 0; k < 4; ++k)
    v[k] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * k));
  return {byte_mask_sse2(v, '\n'), byte_mask_sse2(v, ':'),
          byte_mask_sse2(v, '\0')};
}

inline line_end_marks line_ends_portable(const char* block) {
  __m128i v[4];
  for (int k = 0; k < 4; ++k)
    v[k] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * k));
  return {byte_mask_sse2(v, '\n'), byte_mask_sse2(v, '\r')};
}
#else
inline line_marks find_marks_portable(const char* block) {
  line_marks result;
  for (int i = 0; i < 64; ++i) {
    auto bit = uint64_t{1} << i;
    if (block[i] == '\n')
      result.newline |= bit;
    else if (block[i] == ':')
      result.colon |= bit;
    else if (block[i] == '\0')
      result.nul |= bit;
  }
  return result;
}

inline line_end_marks line_ends_portable(const char* block) {
  line_end_marks result;
  for (int i = 0; i < 64; ++i) {
    if (block[i] == '\n')
      result.newline |= uint64_t{1} << i;
    else if (block[i] == '\r')
      result.cr |= uint64_t{1} << i;
  }
  return result;
}
#endif

bool cpu_has_avx2() {
#if defined(SB_AMI_AVX2)
  static const bool value = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return value;
#else
  return false;
#endif
}

/// Fills out.fields from out.text in one pass, 64 bytes at a time: per line
/// the first ':' and the '\n' come from bit masks, so the cost is a few
/// instructions per line rather than a branch per interesting byte.
template <line_marks (*FindMarks)(const char*)>
__attribute__((always_inline)) inline bool parse_text_with(ami_event& out) {
  out.fields.clear();
  const char* base = out.text.data();
  const size_t size = out.text.size();
  if (size == 0)
    return false;
  // AMI lines average 25-30 bytes: one allocation covers nearly every frame.
  size_t estimate = size / 24 + 2;
  if (out.fields.capacity() < estimate)
    out.fields.reserve(estimate);
  constexpr size_t none = static_cast<size_t>(-1);
  size_t line = 0;
  size_t colon = none; // the current line's first ':'
  auto add_field = [&](size_t line_end) {
    size_t value_end = line_end;
    if (value_end > colon + 1 && base[value_end - 1] == '\r')
      --value_end;
    size_t value = colon + 1;
    if (value < value_end && base[value] == ' ')
      ++value;
    out.fields.push_back(ami_field_span{
        static_cast<uint32_t>(line), static_cast<uint32_t>(colon - line),
        static_cast<uint32_t>(value),
        static_cast<uint32_t>(value_end - value)});
  };
  char tail[64];
  for (size_t block = 0; block < size; block += 64) {
    line_marks marks;
    if (block + 64 <= size) {
      marks = FindMarks(base + block);
    } else {
      // The last partial block, padded with a byte that marks nothing.
      std::memset(tail, 'x', sizeof(tail));
      std::memcpy(tail, base + block, size - block);
      marks = FindMarks(tail);
    }
    if (marks.nul != 0)
      return false;
    // `colons` keeps only bits at or after the current line's start.
    auto colons = marks.colon;
    auto newlines = marks.newline;
    while (newlines != 0) {
      auto bit = static_cast<unsigned>(__builtin_ctzll(newlines));
      if (colon == none) {
        auto before_nl = colons & ((uint64_t{1} << bit) - 1);
        if (before_nl == 0)
          return false; // a line without a colon
        colon = block + static_cast<size_t>(__builtin_ctzll(before_nl));
      }
      if (colon == line)
        return false; // no key
      add_field(block + bit);
      line = block + bit + 1;
      colon = none;
      colons &= ~((uint64_t{2} << bit) - 1);
      newlines &= newlines - 1;
    }
    if (colon == none && colons != 0)
      colon = block + static_cast<size_t>(__builtin_ctzll(colons));
  }
  if (line < size) {
    if (colon == none || colon == line)
      return false;
    add_field(size);
  }
  return !out.fields.empty();
}

#if defined(SB_AMI_AVX2)
__attribute__((target("avx2"))) bool parse_text_avx2(ami_event& out) {
  return parse_text_with<find_marks_avx2>(out);
}
#endif

bool parse_text_portable(ami_event& out) {
  return parse_text_with<find_marks_portable>(out);
}

bool parse_text(ami_event& out) {
#if defined(SB_AMI_AVX2)
  if (cpu_has_avx2())
    return parse_text_avx2(out);
#endif
  return parse_text_portable(out);
}

template <line_end_marks (*LineEnds)(const char*)>
__attribute__((always_inline)) inline size_t
find_terminators_with(const char* data, size_t from, size_t end,
                      uint16_t* out) {
  auto at = [&](size_t i, size_t back) {
    return i >= back ? data[i - back] : '\n';
  };
  // Bit 0 of each: the byte one (or two) before the block.
  uint64_t prev_nl = at(from, 1) == '\n';
  uint64_t prev_cr = at(from, 1) == '\r';
  uint64_t prev2_nl = at(from, 2) == '\n';
  size_t n = 0;
  size_t i = from;
  for (; i + 64 <= end; i += 64) {
    auto marks = LineEnds(data + i);
    // A '\n' right after "\n" or after "\n\r" ends an empty line.
    uint64_t nl_before = (marks.newline << 1) | prev_nl;
    uint64_t cr_before = (marks.cr << 1) | prev_cr;
    uint64_t nl_two_before = (marks.newline << 2) | (prev_nl << 1) | prev2_nl;
    uint64_t ends = marks.newline & (nl_before | (cr_before & nl_two_before));
    while (ends != 0) {
      out[n++] = static_cast<uint16_t>(i - from + __builtin_ctzll(ends));
      ends &= ends - 1;
    }
    prev_nl = marks.newline >> 63;
    prev_cr = marks.cr >> 63;
    prev2_nl = (marks.newline >> 62) & 1;
  }
  for (; i < end; ++i) {
    if (data[i] != '\n')
      continue;
    char p1 = at(i, 1);
    if (p1 == '\n' || (p1 == '\r' && at(i, 2) == '\n'))
      out[n++] = static_cast<uint16_t>(i - from);
  }
  return n;
}

#if defined(SB_AMI_AVX2)
__attribute__((target("avx2"))) size_t find_terminators_avx2(const char* data,
                                                             size_t from,
                                                             size_t end,
                                                             uint16_t* out) {
  return find_terminators_with<line_ends_avx2>(data, from, end, out);
}
#endif

} // namespace

size_t detail::find_terminators(const char* data, size_t from, size_t end,
                                uint16_t* out) noexcept {
#if defined(SB_AMI_AVX2)
  if (cpu_has_avx2())
    return find_terminators_avx2(data, from, end, out);
#endif
  return find_terminators_with<line_ends_portable>(data, from, end, out);
}

bool parse_frame(std::string_view frame, ami_event& out) {
  out.text.assign(frame.data(), frame.size());
  return parse_text(out);
}

bool parse_frame(std::string&& frame, ami_event& out) {
  out.text = std::move(frame);
  return parse_text(out);
}

action_writer::action_writer(std::string connection_tag)
    : tag_(std::move(connection_tag)) {}

std::string action_writer::next_action_id() {
  std::string id = "sb-";
  id += tag_;
  id += '-';
  id += std::to_string(++counter_);
  return id;
}

namespace {

bool safe_value(std::string_view v) {
  return v.find_first_of("\r\n") == std::string_view::npos;
}

} // namespace

bool action_writer::write(
    std::string& out, std::string_view action, std::string_view action_id,
    const std::vector<std::pair<std::string, std::string>>& fields) {
  if (!safe_value(action) || !safe_value(action_id))
    return false;
  for (auto& [k, v] : fields)
    if (!safe_value(k) || !safe_value(v) || k.empty()
        || k.find(':') != std::string::npos)
      return false;
  out += "Action: ";
  out += action;
  out += "\r\nActionID: ";
  out += action_id;
  out += "\r\n";
  for (auto& [k, v] : fields) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out += "\r\n";
  return true;
}

std::string md5_login_key(std::string_view challenge, std::string_view secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
  EVP_DigestUpdate(ctx, challenge.data(), challenge.size());
  EVP_DigestUpdate(ctx, secret.data(), secret.size());
  EVP_DigestFinal_ex(ctx, digest, &digest_len);
  EVP_MD_CTX_free(ctx);
  static constexpr char hex[] = "0123456789abcdef";
  std::string result;
  result.reserve(digest_len * 2);
  for (unsigned i = 0; i < digest_len; ++i) {
    result.push_back(hex[digest[i] >> 4]);
    result.push_back(hex[digest[i] & 0x0F]);
  }
  return result;
}

} // namespace sb::ami
