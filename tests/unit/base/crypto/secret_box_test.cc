#include "base/crypto/secret_box.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/crypto/encoding.h"

namespace keystep {
namespace {

const std::string kKey(32, 'k');
const std::string kOtherKey(32, 'o');

SecretBox make_box(const std::string& key) {
  Result<SecretBox> box = SecretBox::from_key(key);
  EXPECT_TRUE(box.ok());
  return std::move(box).value();
}

TEST(SecretBox, RoundTripsPlaintext) {
  OsRandom random;
  const SecretBox box = make_box(kKey);
  for (std::string plaintext : {std::string(), std::string("x"), std::string(5000, '\x01')}) {
    Result<std::string> sealed = box.seal(plaintext, "signing_key:k1", random);
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(sealed->size(), plaintext.size() + 29);
    EXPECT_EQ(static_cast<unsigned char>((*sealed)[0]), 0x01);
    Result<std::string> opened = box.open(*sealed, "signing_key:k1");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST(SecretBox, UsesFreshNonceEachSeal) {
  OsRandom random;
  const SecretBox box = make_box(kKey);
  Result<std::string> a = box.seal("same", "", random);
  Result<std::string> b = box.seal("same", "", random);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(SecretBox, RejectsKeyOfWrongSize) {
  Result<SecretBox> box = SecretBox::from_key(std::string(31, 'k'));
  ASSERT_FALSE(box.ok());
  EXPECT_EQ(box.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(SecretBox::from_key(std::string(33, 'k')).ok());
}

TEST(SecretBox, RejectsWrongAad) {
  OsRandom random;
  const SecretBox box = make_box(kKey);
  Result<std::string> sealed = box.seal("secret", "signing_key:k1", random);
  ASSERT_TRUE(sealed.ok());
  Result<std::string> opened = box.open(*sealed, "signing_key:k2");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kDenied);
  EXPECT_EQ(opened.error().message, "decryption failed");
  EXPECT_FALSE(box.open(*sealed, "").ok());
}

TEST(SecretBox, RejectsWrongKey) {
  OsRandom random;
  Result<std::string> sealed = make_box(kKey).seal("secret", "aad", random);
  ASSERT_TRUE(sealed.ok());
  Result<std::string> opened = make_box(kOtherKey).open(*sealed, "aad");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kDenied);
}

TEST(SecretBox, RejectsTamperedNonceCiphertextAndTag) {
  OsRandom random;
  const SecretBox box = make_box(kKey);
  Result<std::string> sealed = box.seal("a secret of some length", "aad", random);
  ASSERT_TRUE(sealed.ok());
  // Every byte after the version: nonce [1,13), ciphertext, tag (last 16).
  for (size_t i = 1; i < sealed->size(); ++i) {
    std::string tampered = *sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    Result<std::string> opened = box.open(tampered, "aad");
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_EQ(opened.error().code, ErrorCode::kDenied) << "byte " << i;
  }
}

TEST(SecretBox, RejectsUnknownVersion) {
  OsRandom random;
  const SecretBox box = make_box(kKey);
  Result<std::string> sealed = box.seal("secret", "aad", random);
  ASSERT_TRUE(sealed.ok());
  std::string tampered = *sealed;
  tampered[0] = 0x02;
  Result<std::string> opened = box.open(tampered, "aad");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
}

TEST(SecretBox, RejectsTruncatedInput) {
  OsRandom random;
  const SecretBox box = make_box(kKey);
  Result<std::string> sealed = box.seal("", "aad", random);
  ASSERT_TRUE(sealed.ok());
  ASSERT_EQ(sealed->size(), 29u);
  for (size_t n = 0; n < sealed->size(); ++n) {
    Result<std::string> opened = box.open(sealed->substr(0, n), "aad");
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
  }
  Result<std::string> longer = box.seal("secret", "aad", random);
  ASSERT_TRUE(longer.ok());
  Result<std::string> cut = box.open(longer->substr(0, longer->size() - 1), "aad");
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().code, ErrorCode::kDenied);
}

class MasterKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv(kMasterKeyEnv);
    char tmpl[] = "/tmp/keystep-master-key-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/master.key";
  }
  void TearDown() override {
    unsetenv(kMasterKeyEnv);
    std::filesystem::remove_all(dir_);
  }
  void write_key_file(const std::string& content, mode_t mode) {
    std::ofstream(path_) << content;
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
  }

  std::string dir_;
  std::string path_;
};

TEST_F(MasterKeyTest, CreatesFileWithMode0600ThatLoads) {
  OsRandom random;
  ASSERT_TRUE(create_master_key_file(dir_, random).ok());
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  Result<std::string> key = load_master_key(dir_);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->size(), 32u);
  EXPECT_TRUE(SecretBox::from_key(*key).ok());
}

TEST_F(MasterKeyTest, CreateRefusesExistingFile) {
  OsRandom random;
  ASSERT_TRUE(create_master_key_file(dir_, random).ok());
  Result<std::string> first = load_master_key(dir_);
  ASSERT_TRUE(first.ok());
  Status again = create_master_key_file(dir_, random);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  Result<std::string> second = load_master_key(dir_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
}

TEST_F(MasterKeyTest, CreateReportsMissingDirectory) {
  OsRandom random;
  Status s = create_master_key_file(dir_ + "/absent", random);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
}

TEST_F(MasterKeyTest, LoadsBase64FileWithTrailingNewline) {
  const std::string key(32, '\x7f');
  write_key_file(base64_encode(key) + "\n", 0600);
  Result<std::string> loaded = load_master_key(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(*loaded, key);
}

TEST_F(MasterKeyTest, LoadRefusesGroupOrWorldAccessibleFile) {
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    write_key_file(base64_encode(std::string(32, 'k')) + "\n", mode);
    Result<std::string> loaded = load_master_key(dir_);
    ASSERT_FALSE(loaded.ok()) << std::oct << mode;
    EXPECT_EQ(loaded.error().code, ErrorCode::kDenied);
    EXPECT_NE(loaded.error().message.find("chmod 600"), std::string::npos);
  }
}

TEST_F(MasterKeyTest, LoadRefusesMalformedFile) {
  for (const std::string& content :
       {std::string(), std::string("not base64!"), base64_encode(std::string(31, 'k')),
        base64_encode(std::string(33, 'k')), std::string(1000, 'A')}) {
    write_key_file(content, 0600);
    Result<std::string> loaded = load_master_key(dir_);
    ASSERT_FALSE(loaded.ok()) << content;
    EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST_F(MasterKeyTest, LoadReportsMissingFile) {
  Result<std::string> loaded = load_master_key(dir_);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kNotFound);
}

TEST_F(MasterKeyTest, EnvironmentOverridesFile) {
  write_key_file(base64_encode(std::string(32, 'f')), 0600);
  const std::string env_key(32, 'e');
  setenv(kMasterKeyEnv, base64_encode(env_key).c_str(), 1);
  Result<std::string> loaded = load_master_key(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(*loaded, env_key);
}

TEST_F(MasterKeyTest, RejectsMalformedEnvironmentKey) {
  write_key_file(base64_encode(std::string(32, 'f')), 0600);
  for (const std::string& value :
       {std::string(), std::string("%%%"), base64_encode(std::string(16, 'e'))}) {
    setenv(kMasterKeyEnv, value.c_str(), 1);
    Result<std::string> loaded = load_master_key(dir_);
    ASSERT_FALSE(loaded.ok()) << value;
    EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(loaded.error().message.find(kMasterKeyEnv), std::string::npos);
  }
}

}  // namespace
}  // namespace keystep
