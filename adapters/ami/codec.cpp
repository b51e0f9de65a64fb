#include "adapters/ami/codec.hpp"

#include <openssl/evp.h>

#include <cstring>

namespace sb::ami {

frame_splitter::frame_splitter(size_t max_frame_bytes)
  : max_frame_bytes_(max_frame_bytes) {
}

void frame_splitter::expect_banner(bool value) noexcept {
  banner_pending_ = value;
}

const codec_errors& frame_splitter::errors() const noexcept {
  return errors_;
}

size_t frame_splitter::buffered() const noexcept {
  return buffer_.size();
}

size_t frame_splitter::until_empty_line(std::string_view bytes) const noexcept {
  // The part of the current line already held in buffer_.
  size_t held = buffer_.size() - line_;
  const char* data = bytes.data();
  size_t start = 0;
  for (;;) {
    auto nl = static_cast<const char*>(
      std::memchr(data + start, '\n', bytes.size() - start));
    if (nl == nullptr)
      return bytes.size();
    size_t j = static_cast<size_t>(nl - data);
    bool empty;
    if (start == 0 && held > 0)
      empty = held == 1 && j == 0 && buffer_[line_] == '\r';
    else
      empty = j == start || (j == start + 1 && data[start] == '\r');
    if (empty)
      return j + 1;
    start = j + 1;
  }
}

namespace {

/// Fills out.fields from out.text.
bool parse_text(ami_event& out) {
  out.fields.clear();
  const char* base = out.text.data();
  const size_t size = out.text.size();
  if (size == 0 || std::memchr(base, '\0', size) != nullptr)
    return false;
  // AMI lines average 25-30 bytes: one allocation covers nearly every frame.
  size_t estimate = size / 24 + 2;
  if (out.fields.capacity() < estimate)
    out.fields.reserve(estimate);
  const char* p = base;
  const char* end = base + size;
  while (p < end) {
    // Keys are short: a plain loop beats a library call here.
    const char* colon = p;
    while (colon < end && *colon != ':' && *colon != '\n')
      ++colon;
    if (colon == end || *colon != ':' || colon == p)
      return false;
    auto nl = static_cast<const char*>(
      std::memchr(colon, '\n', static_cast<size_t>(end - colon)));
    const char* line_end = nl ? nl : end;
    const char* value_end = line_end;
    if (value_end[-1] == '\r' && value_end - 1 > colon)
      --value_end;
    const char* value = colon + 1;
    if (value < value_end && *value == ' ')
      ++value;
    out.fields.push_back(ami_field_span{
      static_cast<uint32_t>(p - base), static_cast<uint32_t>(colon - p),
      static_cast<uint32_t>(value - base),
      static_cast<uint32_t>(value_end - value)});
    p = line_end + 1;
  }
  return true;
}

} // namespace

bool parse_frame(std::string_view frame, ami_event& out) {
  out.text.assign(frame.data(), frame.size());
  return parse_text(out);
}

bool parse_frame(std::string&& frame, ami_event& out) {
  out.text = std::move(frame);
  return parse_text(out);
}

action_writer::action_writer(std::string connection_tag)
  : tag_(std::move(connection_tag)) {
}

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
