#pragma once
// The static files Keystep's pages load from their own origin (CSP script-src 'self'): the
// files of http/assets/, compiled into the binary (http/assets/embed_assets.cmake), so a
// server never depends on files beside it.

#include <string_view>

namespace keystep::http {

struct Asset {
  std::string_view path;          // e.g. "/assets/webauthn.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

// The asset served at `path`, or nullptr. Thread-safe.
const Asset* asset(std::string_view path);

}  // namespace keystep::http
