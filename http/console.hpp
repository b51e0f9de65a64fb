#pragma once

// The operator console: the web page in console/ (HTML, CSS, JavaScript
// modules), compiled into the binary by http/console_embed.cmake and served
// at `/` (the page) and `/console/<file>` (what it loads). Nothing is read
// from disk or loaded from elsewhere at run time; the Content-Security-Policy
// holds the page to its own origin.
//
// Each file is prepared once when mounted: its ETag (a hash of the bytes,
// so a new build changes it) and gzip and brotli encodings when they are
// smaller, picked by the request's Accept-Encoding. Responses say
// `Cache-Control: no-cache`: the browser keeps the files and revalidates them
// with If-None-Match (a 304 without a body), so an upgrade is seen at once.

#include <string>
#include <string_view>
#include <vector>

#include "http/router.hpp"

namespace sb::http {

struct console_asset {
  /// File name under console/ ("index.html", "inbox.js").
  std::string_view name;
  std::string_view content_type;
  std::string_view bytes;
};

/// console/ as it was when this binary was built (generated source).
const std::vector<console_asset>& console_assets();

/// The policy every console response carries: scripts, styles, images and
/// connections from this origin only, no inline script, no frames.
extern const char* const console_csp;

/// `bytes` in gzip format (RFC 1952), best compression.
std::string gzip_bytes(std::string_view bytes);

/// `bytes` in brotli format (RFC 7932), best compression.
std::string brotli_bytes(std::string_view bytes);

/// True when the Accept-Encoding value `accept` allows `coding` ("gzip",
/// "br"): listed (or `*`) without `q=0`.
bool accepts_encoding(std::string_view accept, std::string_view coding);

/// Mounts GET / and GET /console/{file} (no token needed: the page itself
/// holds no data; it asks the API with the token the user signs in with).
void mount_console(router& r);

} // namespace sb::http
