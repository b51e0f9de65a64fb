#include "adapters/webhook/signature.hpp"

#include <array>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace sb::webhook {

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       digest.data(), &size);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0xf]);
  }
  return out;
}

std::string signature(std::string_view secret, std::string_view timestamp,
                      std::string_view body) {
  std::string message;
  message.reserve(timestamp.size() + 1 + body.size());
  message.append(timestamp);
  message.push_back('.');
  message.append(body);
  return "sha256=" + hmac_sha256_hex(secret, message);
}

} // namespace sb::webhook
