// keystep-enroll's command line: the usage errors that stop it before any key or server is
// touched (slot 1 needs asking twice; --user or --batch; the API token's sources; fido2's
// issuer, PIN file and missing key).
#include "tools/keystep-enroll/commands.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/test_util.h"

namespace keystep::enroll {
namespace {

struct Outcome {
  int status;
  std::string out;
  std::string err;
};

class EnrollCommands : public testing::Test {
 protected:
  void SetUp() override { unsetenv("KEYSTEP_TOKEN"); }

  Outcome run(std::vector<std::string> words) {
    words.insert(words.begin(), "keystep-enroll");
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    std::ostringstream out, err;
    auto* saved_out = std::cout.rdbuf(out.rdbuf());
    auto* saved_err = std::cerr.rdbuf(err.rdbuf());
    const Fido2Keys no_security_key{[this](fido_dev_info_t*, size_t, size_t* found) {
                                      ++listed_;
                                      *found = 0;
                                      return FIDO_OK;
                                    },
                                    nullptr};
    const int status = enroll_main(
        static_cast<int>(argv.size()), argv.data(),
        [this] {
          ++opened_;
          return Result<std::unique_ptr<YubiKeyDevice>>(open_failure(OpenFailure::kNoKey));
        },
        no_security_key);
    std::cout.rdbuf(saved_out);
    std::cerr.rdbuf(saved_err);
    return {status, out.str(), err.str()};
  }
  std::vector<std::string> yubikey(std::vector<std::string> more) {
    std::vector<std::string> words = {"yubikey", "--issuer", "http://127.0.0.1:9", "--account",
                                      "acme"};
    words.insert(words.end(), more.begin(), more.end());
    return words;
  }

  std::vector<std::string> fido2(std::vector<std::string> more) {
    std::vector<std::string> words = {"fido2", "--issuer", "http://127.0.0.1:9", "--account",
                                      "acme"};
    words.insert(words.end(), more.begin(), more.end());
    return words;
  }

  int opened_ = 0;
  int listed_ = 0;
  testutil::TempDir dir_;
};

TEST_F(EnrollCommands, SlotOneIsRefusedUnlessAskedTwice) {
  auto refused = run(yubikey({"--user", "a@example.com", "--slot", "1", "--dry-run"}));
  EXPECT_EQ(refused.status, 2);
  EXPECT_NE(refused.err.find("slot 1 holds the key's factory Yubico OTP credential"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("--force-slot-1"), std::string::npos);
  EXPECT_EQ(opened_, 0);
  auto asked_twice =
      run(yubikey({"--user", "a@example.com", "--slot", "1", "--force-slot-1", "--dry-run"}));
  EXPECT_EQ(asked_twice.status, 0) << asked_twice.err;
  EXPECT_NE(asked_twice.out.find("write slot 1"), std::string::npos) << asked_twice.out;
  EXPECT_NE(asked_twice.out.find("ykpersonalize -1 -ooath-hotp"), std::string::npos);
}

TEST_F(EnrollCommands, OneOfUserAndBatch) {
  EXPECT_EQ(run(yubikey({})).status, 2);
  auto both = run(yubikey({"--user", "a@example.com", "--batch", "x.csv"}));
  EXPECT_EQ(both.status, 2);
  EXPECT_EQ(both.err,
            "keystep-enroll: give --user EMAIL for one key or --batch FILE for several\n");
  EXPECT_EQ(run(yubikey({"--user", "a@example.com", "--journal", "j"})).status, 2);
  EXPECT_EQ(run(yubikey({"--user", "a@example.com", "--digits", "7"})).status, 2);
  EXPECT_EQ(opened_, 0);
}

TEST_F(EnrollCommands, TheTokenComesFromAFileOrTheEnvironmentNeverAFlag) {
  auto none = run(yubikey({"--user", "a@example.com"}));
  EXPECT_EQ(none.status, 2);
  EXPECT_NE(none.err.find("KEYSTEP_TOKEN or --token-file"), std::string::npos) << none.err;
  EXPECT_EQ(run(yubikey({"--user", "a@example.com", "--token", "ks_x"})).status, 2);
  EXPECT_EQ(opened_, 0);
  // With a token the key is looked for next (none here).
  const std::string file = dir_.file("token");
  std::ofstream(file) << "ks_from_file\n";
  auto from_file = run(yubikey({"--user", "a@example.com", "--token-file", file}));
  EXPECT_EQ(from_file.status, 1);
  EXPECT_EQ(from_file.err, "keystep-enroll: no YubiKey found: plug one in\n");
  setenv("KEYSTEP_TOKEN", "ks_from_env", 1);
  EXPECT_EQ(run(yubikey({"--user", "a@example.com"})).status, 1);
  EXPECT_EQ(opened_, 2);
}

TEST_F(EnrollCommands, ImportRefusesAMalformedFileBeforeAnyRequest) {
  const std::string file = dir_.file("keys.csv");
  std::ofstream(file) << "alice@example.com,1,3132333435363738393031323334353637383930,6,0,\n"
                         "bob@example.com,1,not-a-key,6,0,\n";
  auto r = run(
      {"import", "--issuer", "http://127.0.0.1:9", "--account", "acme", "--format", "csv", file});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("line 2: the key is neither hexadecimal nor base32"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("nothing was imported"), std::string::npos);
  auto no_users = run({"import", "--issuer", "http://127.0.0.1:9", "--account", "acme", "--format",
                       "privacyidea", file});
  EXPECT_EQ(no_users.status, 2);
  EXPECT_NE(no_users.err.find("--users"), std::string::npos);
}

TEST_F(EnrollCommands, Fido2NeedsAUserAnIssuerURLAndAToken) {
  auto no_user = run(fido2({}));
  EXPECT_EQ(no_user.status, 2);
  EXPECT_NE(no_user.err.find("--user"), std::string::npos) << no_user.err;
  auto bad_issuer = run({"fido2", "--issuer", "id.example.com", "--account", "acme", "--user",
                         "a@example.com"});
  EXPECT_EQ(bad_issuer.status, 2);
  EXPECT_NE(bad_issuer.err.find("--issuer: the issuer is not an absolute http(s) URL"),
            std::string::npos)
      << bad_issuer.err;
  auto no_token = run(fido2({"--user", "a@example.com"}));
  EXPECT_EQ(no_token.status, 2);
  EXPECT_NE(no_token.err.find("KEYSTEP_TOKEN or --token-file"), std::string::npos);
  EXPECT_EQ(run(fido2({"--user", "a@example.com", "--pin", "1234"})).status, 2);
  EXPECT_EQ(listed_, 0);
}

TEST_F(EnrollCommands, Fido2RefusesAnEmptyPinFile) {
  const std::string file = dir_.file("pin");
  std::ofstream(file) << "\n4711\n";
  setenv("KEYSTEP_TOKEN", "ks_from_env", 1);
  auto r = run(fido2({"--user", "a@example.com", "--pin-file", file}));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "keystep-enroll: " + file + ": the first line should be the key's PIN\n");
  EXPECT_EQ(listed_, 0);
}

TEST_F(EnrollCommands, Fido2WithoutAKeyStopsBeforeTheServer) {
  setenv("KEYSTEP_TOKEN", "ks_from_env", 1);
  // The issuer (port 9, discard) is never reached: the missing key is said first.
  auto r = run(fido2({"--user", "a@example.com"}));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("keystep-enroll: no FIDO2 security key found: plug one in"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(listed_, 1);
}

}  // namespace
}  // namespace keystep::enroll
