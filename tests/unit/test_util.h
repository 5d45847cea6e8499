#pragma once
// Helpers shared by the unit tests: gtest assertions on Result, and a temporary directory.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "base/result.h"

namespace keystep::testutil {

// EXPECT_TRUE(Ok(result)) prints the error's code and message when it failed.
template <class T>
testing::AssertionResult Ok(const Result<T>& result) {
  if (result.ok()) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << error_code_name(result.error().code) << ": " << result.error().message;
}

// EXPECT_TRUE(Fails(result, code)): it failed, with `code`.
template <class T>
testing::AssertionResult Fails(const Result<T>& result, ErrorCode code) {
  if (result.ok())
    return testing::AssertionFailure() << "succeeded; expected " << error_code_name(code);
  if (result.error().code == code) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "failed with " << error_code_name(result.error().code) << " (" << result.error().message
         << "); expected " << error_code_name(code);
}

// A fresh directory under the system's temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "keystep-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const {
    return (std::filesystem::path(path_) / name).string();
  }

 private:
  std::string path_;
};

}  // namespace keystep::testutil
