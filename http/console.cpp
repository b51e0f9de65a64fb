#include "http/console.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>

#include <brotli/encode.h>
#include <zlib.h>

#include "core/strings.hpp"
#include "http/json.hpp"

namespace sb::http {

const char* const console_csp
    = "default-src 'none'; script-src 'self'; style-src 'self'; "
      "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
      "form-action 'self'; frame-ancestors 'none'";

namespace {

/// One file as served: its bytes in each encoding worth having.
struct prepared_asset {
  std::string content_type;
  std::string etag_base;
  std::string identity;
  /// Empty when the encoding would not be smaller.
  std::string gzip;
  std::string brotli;
};

std::string fnv1a_hex(std::string_view bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

prepared_asset prepare(const console_asset& a) {
  prepared_asset p;
  p.content_type = std::string{a.content_type};
  p.identity = std::string{a.bytes};
  p.etag_base = fnv1a_hex(a.bytes);
  if (auto z = gzip_bytes(a.bytes); z.size() < a.bytes.size())
    p.gzip = std::move(z);
  if (auto b = brotli_bytes(a.bytes); b.size() < a.bytes.size())
    p.brotli = std::move(b);
  return p;
}

/// True when If-None-Match lists the asset's ETag (any of its encodings) or
/// `*`: the copy the browser holds is current.
bool not_modified(std::string_view if_none_match, const std::string& base) {
  if (trim(if_none_match) == "*")
    return true;
  return if_none_match.find(base) != std::string_view::npos;
}

void serve(const prepared_asset& asset, const request& req, response& res) {
  res.set_header("Content-Security-Policy", console_csp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-cache");
  res.set_header("Vary", "Accept-Encoding");
  auto accept = req.header("Accept-Encoding");
  const std::string* body = &asset.identity;
  std::string coding;
  if (!asset.brotli.empty() && accepts_encoding(accept, "br")) {
    body = &asset.brotli;
    coding = "br";
  } else if (!asset.gzip.empty() && accepts_encoding(accept, "gzip")) {
    body = &asset.gzip;
    coding = "gzip";
  }
  auto etag
      = "\"" + asset.etag_base + (coding.empty() ? "" : "-" + coding) + "\"";
  res.set_header("ETag", etag);
  if (not_modified(req.header("If-None-Match"), asset.etag_base)) {
    res.status = 304;
    return;
  }
  if (!coding.empty())
    res.set_header("Content-Encoding", coding);
  res.status = 200;
  res.set_content(*body, asset.content_type);
}

} // namespace

std::string gzip_bytes(std::string_view bytes) {
  z_stream zs{};
  // 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9,
                   Z_DEFAULT_STRATEGY)
      != Z_OK)
    throw std::runtime_error("gzip: deflateInit2 failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(bytes.size())), '\0');
  // zlib's interface is not const-correct; it only reads the input.
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  auto rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END)
    throw std::runtime_error("gzip: deflate did not finish");
  return out;
}

std::string brotli_bytes(std::string_view bytes) {
  std::string out(BrotliEncoderMaxCompressedSize(bytes.size()), '\0');
  size_t size = out.size();
  if (BrotliEncoderCompress(BROTLI_MAX_QUALITY, BROTLI_DEFAULT_WINDOW,
                            BROTLI_MODE_TEXT, bytes.size(),
                            reinterpret_cast<const uint8_t*>(bytes.data()),
                            &size, reinterpret_cast<uint8_t*>(out.data()))
      == BROTLI_FALSE)
    throw std::runtime_error("brotli: BrotliEncoderCompress failed");
  out.resize(size);
  return out;
}

bool accepts_encoding(std::string_view accept, std::string_view coding) {
  size_t pos = 0;
  while (pos <= accept.size()) {
    auto end = accept.find(',', pos);
    if (end == std::string_view::npos)
      end = accept.size();
    auto item = trim(accept.substr(pos, end - pos));
    pos = end + 1;
    auto semi = item.find(';');
    auto name = trim(item.substr(0, semi));
    if (!iequals(name, coding) && name != "*")
      continue;
    if (semi == std::string_view::npos)
      return true;
    auto params = lower(item.substr(semi + 1));
    params.erase(std::remove_if(params.begin(), params.end(), is_space),
                 params.end());
    auto q = params.find("q=");
    // q=0 (or 0.0, 0.000) means "not acceptable".
    return q == std::string::npos
           || std::strtod(params.c_str() + q + 2, nullptr) > 0;
  }
  return false;
}

void mount_console(router& r) {
  auto assets = std::make_shared<std::map<std::string, prepared_asset>>();
  for (const auto& a : console_assets())
    assets->emplace(std::string{a.name}, prepare(a));
  if (assets->count("index.html") == 0)
    throw std::logic_error("console: index.html is not embedded");
  route page;
  page.method = "GET";
  page.path = "/";
  page.needed = scope::none;
  page.quick = true;
  r.add(page, [assets](const request& req, response& res) {
    serve(assets->at("index.html"), req, res);
  });
  route file = page;
  file.path = "/console/{file}";
  r.add(file, [assets](const request& req, response& res) {
    auto found = assets->find(req.path_param(1));
    if (found == assets->end()) {
      send_error(res, 404, "not_found",
                 "the console has no file named '" + req.path_param(1) + "'");
      return;
    }
    serve(found->second, req, res);
  });
}

} // namespace sb::http
