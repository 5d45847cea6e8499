#include "base/qr_png.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include "base/crypto/encoding.h"

namespace keystep {
namespace {

const std::string kUri =
    "otpauth://totp/Acme%20Inc:bob%2Bmfa%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    "&issuer=Acme%20Inc&algorithm=SHA1&digits=6&period=30";

const std::string kPngSignature("\x89PNG\r\n\x1a\n", 8);

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t{static_cast<unsigned char>(s[at])} << 24) |
         (uint32_t{static_cast<unsigned char>(s[at + 1])} << 16) |
         (uint32_t{static_cast<unsigned char>(s[at + 2])} << 8) |
         uint32_t{static_cast<unsigned char>(s[at + 3])};
}

// A temporary file removed at scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    char name[] = "/tmp/keystep_qr_XXXXXX.png";
    const int fd = mkstemps(name, 4);
    if (fd < 0) return;
    close(fd);
    path_ = name;
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Decodes the QR code in a PNG file with zbarimg (Debian zbar-tools, installed by
// tools/install-deps.sh). Fails the test when zbarimg is missing or finds nothing.
std::string zbar_decode(const std::string& path) {
  if (std::system("command -v zbarimg >/dev/null 2>&1") != 0) {
    ADD_FAILURE() << "zbarimg is not installed: apt-get install zbar-tools "
                     "(tools/install-deps.sh installs it)";
    return {};
  }
  // zbarimg's stderr (chatter about D-Bus on some machines) is kept aside for failures.
  const std::string err_path = path + ".err";
  const std::string command = "zbarimg --raw -q '" + path + "' 2>'" + err_path + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return {};
  }
  std::string out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  std::ifstream err_file(err_path);
  const std::string err((std::istreambuf_iterator<char>(err_file)),
                        std::istreambuf_iterator<char>());
  std::remove(err_path.c_str());
  EXPECT_EQ(status, 0) << command << " found no QR code: " << err;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST(QrPng, ProducesAPngThatZbarDecodesToTheInput) {
  Result<std::string> png = qr_png(kUri);
  ASSERT_TRUE(png.ok()) << png.error().message;
  TempFile file(*png);
  ASSERT_FALSE(file.path().empty());
  EXPECT_EQ(zbar_decode(file.path()), kUri);
}

TEST(QrPng, DecodesAtASmallScale) {
  Result<std::string> png = qr_png("hello, world", 2, 4);
  ASSERT_TRUE(png.ok());
  TempFile file(*png);
  EXPECT_EQ(zbar_decode(file.path()), "hello, world");
}

TEST(QrPng, IsAOneBitGrayscaleImageOfTheExpectedSize) {
  const int scale = 6;
  const int margin = 4;
  Result<std::string> png = qr_png(kUri, scale, margin);
  ASSERT_TRUE(png.ok());
  ASSERT_GT(png->size(), 33u);
  EXPECT_EQ(png->substr(0, 8), kPngSignature);
  EXPECT_EQ(png->substr(12, 4), "IHDR");
  const uint32_t width = be32(*png, 16);
  const uint32_t height = be32(*png, 20);
  EXPECT_EQ(width, height);
  // A QR code is 17 + 4 * version modules wide.
  const uint32_t modules = width / scale - 2 * margin;
  EXPECT_EQ(width % scale, 0u);
  EXPECT_EQ((modules - 17) % 4, 0u) << modules;
  EXPECT_EQ((*png)[24], 1);  // bit depth
  EXPECT_EQ((*png)[25], 0);  // color type: grayscale
  EXPECT_EQ(png->substr(png->size() - 8, 4), "IEND");
}

TEST(QrPng, ScaleAndMarginChangeTheSize) {
  Result<std::string> small = qr_png(kUri, 1, 0);
  Result<std::string> large = qr_png(kUri, 10, 4);
  ASSERT_TRUE(small.ok());
  ASSERT_TRUE(large.ok());
  const uint32_t modules = be32(*small, 16);
  EXPECT_EQ(be32(*large, 16), (modules + 8) * 10);
}

TEST(QrPng, RejectsBadArguments) {
  for (auto [scale, margin] : {std::pair{0, 4}, {33, 4}, {-1, 4}, {6, -1}, {6, 17}}) {
    Result<std::string> png = qr_png(kUri, scale, margin);
    ASSERT_FALSE(png.ok()) << scale << "," << margin;
    EXPECT_EQ(png.error().code, ErrorCode::kInvalidArgument);
  }
  Result<std::string> empty = qr_png("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  // Version 40-M holds at most 2331 bytes.
  Result<std::string> too_long = qr_png(std::string(3000, 'x'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(qr_png(std::string(2000, 'x'), 1, 0).ok());
}

TEST(PngDataUri, IsBase64OfThePng) {
  Result<std::string> png = qr_png(kUri);
  ASSERT_TRUE(png.ok());
  const std::string uri = png_data_uri(*png);
  const std::string prefix = "data:image/png;base64,";
  ASSERT_EQ(uri.substr(0, prefix.size()), prefix);
  Result<std::string> decoded = base64_decode(uri.substr(prefix.size()));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, *png);
  EXPECT_EQ(png_data_uri("abc"), "data:image/png;base64,YWJj");
}

}  // namespace
}  // namespace keystep
