// The Muse app's static files (app/ in the source tree), embedded into the binary at build time by
// cmake/embed_assets.cmake, so `muse serve` needs no files beside it and loads nothing from the network.
#pragma once
#include <cstddef>
#include <vector>

namespace muse::server {

struct AppAsset {
  const char* path;          // relative to app/, e.g. "index.html", "app.js"
  const char* content_type;  // from the extension, e.g. "text/javascript; charset=utf-8"
  const unsigned char* data;
  size_t size;
};

// Every file of app/ (not its README or tests), in path order.
const std::vector<AppAsset>& app_assets();

}  // namespace muse::server
