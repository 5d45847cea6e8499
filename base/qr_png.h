#pragma once
// QR codes as PNG images, for showing an otpauth:// URI to an authenticator app's camera.
// Stateless and thread-safe.

#include <string>
#include <string_view>

#include "base/result.h"

namespace keystep {

// On success returns the bytes of a 1-bit grayscale PNG of `text` as a QR code (byte mode,
// error correction level M, smallest version that fits), each module `scale` pixels square,
// with a quiet zone of `margin` modules (the QR specification asks for 4). On failure
// returns kInvalidArgument for empty text, text too long for a QR code, scale outside 1..32
// or margin outside 0..16, and kInternal if libqrencode or libpng fails.
Result<std::string> qr_png(std::string_view text, int scale = 6, int margin = 4);

// "data:image/png;base64,…" for embedding png in an <img src>.
std::string png_data_uri(std::string_view png);

}  // namespace keystep
