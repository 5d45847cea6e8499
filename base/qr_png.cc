#include "base/qr_png.h"

#include <png.h>
#include <qrencode.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "base/crypto/encoding.h"

namespace keystep {
namespace {

struct QrDeleter {
  void operator()(QRcode* code) const { QRcode_free(code); }
};

struct PngWriter {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngWriter() { png_destroy_write_struct(&png, &info); }
};

// Where libpng's output goes. No exception may cross libpng's C frames, so a failed append
// is recorded and reported through png_error after the handler has returned from catch.
struct Sink {
  std::string* out;
  bool failed = false;
};

void write_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* sink = static_cast<Sink*>(png_get_io_ptr(png));
  try {
    sink->out->append(reinterpret_cast<const char*>(data), length);
  } catch (...) {
    sink->failed = true;
  }
  if (sink->failed) png_error(png, "out of memory");
}

void flush_nothing(png_structp) {}

// libpng's own text, kept for the error we return (its default handler prints to stderr).
struct PngErrorText {
  char text[160] = {};
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* error = static_cast<PngErrorText*>(png_get_error_ptr(png));
  std::snprintf(error->text, sizeof error->text, "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

// libpng reports errors by longjmp to here, so this function holds no object with a
// destructor: everything it touches is allocated by the caller.
bool encode(png_structp png, png_infop info, Sink* sink, png_uint_32 size, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, sink, write_bytes, flush_nothing);
  png_set_IHDR(png, info, size, size, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_rows(png, info, rows);
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
  return true;
}

}  // namespace

Result<std::string> qr_png(std::string_view text, int scale, int margin) {
  if (text.empty()) return make_error(ErrorCode::kInvalidArgument, "nothing to encode");
  if (scale < 1 || scale > 32 || margin < 0 || margin > 16) {
    return make_error(ErrorCode::kInvalidArgument, "QR scale must be 1..32, margin 0..16");
  }
  if (text.size() > 4096) {
    return make_error(ErrorCode::kInvalidArgument, "text too long for a QR code");
  }
  errno = 0;
  std::unique_ptr<QRcode, QrDeleter> qr(
      QRcode_encodeData(static_cast<int>(text.size()),
                        reinterpret_cast<const unsigned char*>(text.data()), 0, QR_ECLEVEL_M));
  if (!qr) {
    if (errno == ERANGE) {
      return make_error(ErrorCode::kInvalidArgument, "text too long for a QR code");
    }
    return make_error(ErrorCode::kInternal, std::string("libqrencode: ") + std::strerror(errno));
  }

  // 1-bit gray: 0 is black. Bit 0 of each module byte says "dark".
  const int modules = qr->width;
  const png_uint_32 size = static_cast<png_uint_32>((modules + 2 * margin) * scale);
  const size_t stride = (size + 7) / 8;
  std::vector<unsigned char> pixels(stride * size, 0xFF);
  for (int y = 0; y < modules; ++y) {
    for (int x = 0; x < modules; ++x) {
      if ((qr->data[y * modules + x] & 1) == 0) continue;
      for (int dy = 0; dy < scale; ++dy) {
        const size_t row = static_cast<size_t>((y + margin) * scale + dy);
        for (int dx = 0; dx < scale; ++dx) {
          const size_t col = static_cast<size_t>((x + margin) * scale + dx);
          pixels[row * stride + col / 8] &= static_cast<unsigned char>(~(0x80u >> (col % 8)));
        }
      }
    }
  }
  std::vector<png_bytep> rows(size);
  for (png_uint_32 y = 0; y < size; ++y) rows[y] = pixels.data() + y * stride;

  PngWriter writer;
  PngErrorText error;
  writer.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &error, on_png_error, on_png_warning);
  if (writer.png != nullptr) writer.info = png_create_info_struct(writer.png);
  if (writer.png == nullptr || writer.info == nullptr) {
    return make_error(ErrorCode::kInternal, "libpng: cannot create the writer");
  }
  std::string out;
  Sink sink{&out};
  if (!encode(writer.png, writer.info, &sink, size, rows.data())) {
    return make_error(ErrorCode::kInternal, std::string("libpng: ") + error.text);
  }
  return out;
}

std::string png_data_uri(std::string_view png) {
  return "data:image/png;base64," + base64_encode(png);
}

}  // namespace keystep
