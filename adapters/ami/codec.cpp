#include "adapters/ami/codec.hpp"

#include <openssl/evp.h>

#include <cstring>

namespace sb::ami {

frame_splitter::frame_splitter(size_t max_frame_bytes)
  : max_frame_bytes_(max_frame_bytes) {
  buffer_.reserve(16 * 1024);
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

bool parse_frame(std::string_view frame, ami_event& out) {
  out.text.assign(frame.data(), frame.size());
  out.fields.clear();
  const char* base = out.text.data();
  const size_t size = out.text.size();
  if (size == 0 || std::memchr(base, '\0', size) != nullptr)
    return false;
  size_t line = 0;
  while (line < size) {
    auto nl = static_cast<const char*>(std::memchr(base + line, '\n',
                                                   size - line));
    size_t line_end = nl ? static_cast<size_t>(nl - base) : size;
    size_t content_end = line_end;
    if (content_end > line && base[content_end - 1] == '\r')
      --content_end;
    auto colon = static_cast<const char*>(
      std::memchr(base + line, ':', content_end - line));
    if (colon == nullptr || colon == base + line)
      return false;
    size_t key_end = static_cast<size_t>(colon - base);
    size_t value_begin = key_end + 1;
    if (value_begin < content_end && base[value_begin] == ' ')
      ++value_begin;
    out.fields.push_back(ami_field_span{
      static_cast<uint32_t>(line), static_cast<uint32_t>(key_end - line),
      static_cast<uint32_t>(value_begin),
      static_cast<uint32_t>(content_end - value_begin)});
    line = line_end + 1;
  }
  return !out.fields.empty();
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
