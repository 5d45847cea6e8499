#include "providers/recovery_codes/recovery_codes_provider.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"

namespace keystep {
namespace {

class FailingRandom final : public Random {
 public:
  Status fill(unsigned char*, size_t) override {
    return make_error(ErrorCode::kUnavailable, "no entropy");
  }
};

// For its first `repeats` fills hands out the same bytes, so every drawn code is equal;
// then varying bytes from a linear congruential generator. repeats < 0: stuck for ever.
class StuckRandom final : public Random {
 public:
  explicit StuckRandom(int repeats) : repeats_(repeats) {}
  Status fill(unsigned char* out, size_t n) override {
    const bool stuck = repeats_ < 0 || calls_ < repeats_;
    for (size_t i = 0; i < n; ++i) {
      state_ = state_ * 1664525u + 1013904223u;
      out[i] = stuck ? 7 : static_cast<unsigned char>(state_ >> 24);
    }
    ++calls_;
    return {};
  }

 private:
  int repeats_;
  int calls_ = 0;
  uint32_t state_ = 1;
};

// The codes an enrollment shows, from its client options.
std::vector<std::string> shown_codes(const Enrollment& e) {
  return e.client_options.value(kOptionCodes, std::vector<std::string>{});
}

// A challenge context at unix time `now`.
ChallengeContext at(int64_t now) { return ChallengeContext{now, "", "", nullptr}; }

ErrorCode code_of(const Result<MfaCredential>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? ErrorCode::kInternal : r.error().code;
}

class RecoveryCodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<Enrollment> e = provider_.begin_enrollment(user_, nullptr);
    ASSERT_TRUE(e.ok()) << e.error().message;
    enrollment_ = std::move(*e);
    codes_ = shown_codes(enrollment_);
    Result<MfaCredential> c = provider_.finish_enrollment(enrollment_.pending, "", at(100));
    ASSERT_TRUE(c.ok());
    credential_ = std::move(*c);
  }

  Result<MfaCredential> verify(const MfaCredential& c, const std::string& code) {
    return provider_.verify(c, Challenge{}, code, at(1000));
  }

  OsRandom random_;
  RecoveryCodesProvider provider_{random_};
  UserRef user_{42, 1, "alice@example.com", "Acme"};
  Enrollment enrollment_;
  std::vector<std::string> codes_;  // as the enrollment shows them
  MfaCredential credential_;
};

TEST(RecoveryCodesProvider, InfoMarksAFallbackFactor) {
  OsRandom random;
  RecoveryCodesProvider provider(random);
  EXPECT_EQ(provider.info().id, "recovery_code");
  EXPECT_EQ(provider.info().display_name, "Recovery code");
  EXPECT_EQ(provider.info().amr, std::vector<std::string>{"otp"});
  EXPECT_EQ(provider.info().kind, ProviderKind::kSoft);
  EXPECT_TRUE(provider.info().is_fallback);
}

TEST_F(RecoveryCodesTest, EnrollmentShowsTenDistinctFormattedCodes) {
  ASSERT_EQ(codes_.size(), 10u);
  std::set<std::string> distinct(codes_.begin(), codes_.end());
  EXPECT_EQ(distinct.size(), 10u);
  for (const std::string& code : codes_) {
    ASSERT_EQ(code.size(), 11u) << code;
    EXPECT_EQ(code[5], '-') << code;
    for (size_t i = 0; i < code.size(); ++i) {
      if (i == 5) continue;
      EXPECT_NE(std::string("23456789ABCDEFGHJKMNPQRSTUVWXYZ").find(code[i]), std::string::npos)
          << code;
    }
  }
  EXPECT_TRUE(enrollment_.holds_secret);
  EXPECT_EQ(enrollment_.client_options.size(), 1u);
  EXPECT_EQ(enrollment_.input.kind, InputKind::kNone);
}

TEST_F(RecoveryCodesTest, StoresOnlyKeyedHashesOfTheCodes) {
  const MfaCredential& p = enrollment_.pending;
  EXPECT_EQ(p.provider_id, "recovery_code");
  EXPECT_EQ(p.user_id, 42);
  EXPECT_EQ(p.secret.size(), 32u);
  EXPECT_FALSE(p.confirmed);
  ASSERT_TRUE(p.state["codes"].is_array());
  ASSERT_EQ(p.state["codes"].size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    std::string normalized = codes_[i];
    normalized.erase(5, 1);
    EXPECT_EQ(p.state["codes"][i],
              (nlohmann::json{{"h", base64url_encode(hmac_sha256(p.secret, normalized))},
                              {"used", false}}));
    EXPECT_EQ(p.state.dump().find(normalized), std::string::npos);
  }
  EXPECT_EQ(remaining_codes(p), 10);
}

TEST_F(RecoveryCodesTest, FinishEnrollmentConfirmsWhateverTheResponse) {
  EXPECT_TRUE(credential_.confirmed);
  EXPECT_EQ(credential_.state, enrollment_.pending.state);
  EXPECT_EQ(credential_.secret, enrollment_.pending.secret);
}

TEST_F(RecoveryCodesTest, AcceptsEachCodeOnce) {
  MfaCredential c = credential_;
  for (size_t i = 0; i < codes_.size(); ++i) {
    Result<MfaCredential> r = verify(c, codes_[i]);
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().message;
    EXPECT_EQ(r->last_used_at, 1000);
    EXPECT_TRUE(r->state["codes"][i]["used"].get<bool>());
    EXPECT_EQ(remaining_codes(*r), static_cast<int>(9 - i));
    c = std::move(*r);
  }
  for (const std::string& code : codes_) {
    EXPECT_EQ(code_of(verify(c, code)), ErrorCode::kReplayed) << code;
  }
}

TEST_F(RecoveryCodesTest, RejectsReusedCode) {
  const std::string code = codes_[3];
  Result<MfaCredential> first = verify(credential_, code);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(code_of(verify(*first, code)), ErrorCode::kReplayed);
  EXPECT_TRUE(verify(*first, codes_[4]).ok());
}

TEST_F(RecoveryCodesTest, RefusesWrongCode) {
  std::string wrong = codes_[0];
  // Change one character to another alphabet character not making it another valid code.
  for (char c : std::string("23456789ABCDEFGHJKMNPQRSTUVWXYZ")) {
    wrong[0] = c;
    if (std::find(codes_.begin(), codes_.end(), wrong) ==
        codes_.end()) {
      break;
    }
  }
  EXPECT_EQ(code_of(verify(credential_, wrong)), ErrorCode::kDenied);
  EXPECT_EQ(code_of(verify(credential_, "22222-22222")), ErrorCode::kDenied);
}

TEST_F(RecoveryCodesTest, IgnoresCaseSpacesAndDashes) {
  std::string code = codes_[2];
  std::string plain = code.substr(0, 5) + code.substr(6);
  std::string lower = code;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  std::string spaced =
      " " + plain.substr(0, 3) + " " + plain.substr(3, 4) + "-" + plain.substr(7) + " ";
  for (const std::string& variant : {code, plain, lower, spaced}) {
    EXPECT_TRUE(verify(credential_, variant).ok()) << "'" << variant << "'";
  }
  Result<MfaCredential> used = verify(credential_, lower);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(code_of(verify(*used, plain)), ErrorCode::kReplayed);
}

TEST_F(RecoveryCodesTest, RejectsMalformedInputAsInvalidArgument) {
  const std::string code = codes_[0];
  const std::string bad[] = {"",
                             "-----",
                             code.substr(0, 10),
                             code + "2",
                             "00000-00000",
                             "OOOOO-IIIII",
                             "11111-LLLLL",
                             "ABCDE_23456",
                             "ABCDE.23456",
                             std::string("\xc3\x84") + "BCDE-23456",
                             std::string("ABCDE") + '\0' + "23456"};
  for (const std::string& input : bad) {
    EXPECT_EQ(code_of(verify(credential_, input)), ErrorCode::kInvalidArgument)
        << "'" << input << "'";
  }
}

TEST_F(RecoveryCodesTest, TreatsMalformedCredentialAsInternalError) {
  const std::string code = codes_[0];
  MfaCredential other = credential_;
  other.provider_id = "totp";
  MfaCredential short_key = credential_;
  short_key.secret.resize(16);
  MfaCredential no_codes = credential_;
  no_codes.state = nlohmann::json::object();
  MfaCredential bad_entry = credential_;
  bad_entry.state["codes"][1]["used"] = "no";
  MfaCredential missing_hash = credential_;
  missing_hash.state["codes"][9].erase("h");
  for (const MfaCredential& c : {other, short_key, no_codes, bad_entry, missing_hash}) {
    EXPECT_EQ(code_of(verify(c, code)), ErrorCode::kInternal) << c.state.dump();
    EXPECT_EQ(remaining_codes(c), 0);
  }
}

TEST_F(RecoveryCodesTest, AnotherUsersCodesDoNotWork) {
  Result<Enrollment> other = provider_.begin_enrollment(user_, nullptr);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->pending.secret, enrollment_.pending.secret);
  for (const std::string& code : shown_codes(*other)) {
    if (std::find(codes_.begin(), codes_.end(), code) !=
        codes_.end()) {
      continue;
    }
    EXPECT_EQ(code_of(verify(credential_, code)), ErrorCode::kDenied);
  }
}

TEST(RecoveryCodesProvider, RejectsSettings) {
  OsRandom random;
  RecoveryCodesProvider provider(random);
  UserRef user{1, 1, "a@example.com", "Acme"};
  EXPECT_TRUE(provider.begin_enrollment(user, nlohmann::json::object()).ok());
  for (const nlohmann::json& settings :
       {nlohmann::json{{"count", 5}}, nlohmann::json::array(), nlohmann::json("x")}) {
    Result<Enrollment> e = provider.begin_enrollment(user, settings);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST_F(RecoveryCodesTest, ChallengeIsATypedTextCodeWithOrWithoutTheDash) {
  Result<Challenge> ch = provider_.begin_challenge({&credential_, 1}, at(1000));
  ASSERT_TRUE(ch.ok());
  EXPECT_TRUE(ch->server_state.empty());
  EXPECT_EQ(ch->input.kind, InputKind::kTypedCode);
  EXPECT_EQ(ch->input.min_length, 10);
  EXPECT_EQ(ch->input.max_length, 11);
  EXPECT_EQ(ch->input.inputmode, "text");
  // Every character of a shown code, in either case, is one the field allows.
  for (const std::string& code : codes_) {
    for (char c : code) {
      EXPECT_NE(ch->input.characters.find(c), std::string::npos) << c;
      const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_NE(ch->input.characters.find(lower), std::string::npos) << lower;
    }
  }
}

TEST(RecoveryCodesProvider, TakesNoSettings) {
  OsRandom random;
  RecoveryCodesProvider provider(random);
  EXPECT_EQ(provider.default_settings(), nlohmann::json::object());
  EXPECT_TRUE(provider.describe_settings().fields.empty());
  EXPECT_EQ(provider.validate_settings({{"count", 12}}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(provider.lookup_key("ABCDE-23456"), std::nullopt);
}

// The interface's default: an administrator cannot make someone's recovery codes.
TEST(RecoveryCodesProvider, CannotBeRegisteredByAnAdministrator) {
  OsRandom random;
  RecoveryCodesProvider provider(random);
  Result<MfaCredential> r = provider.register_for(UserRef{1, 2, "a@example.com", "Acme"},
                                                  nlohmann::json::object(), {}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message, "Recovery code cannot be registered by an administrator");
}

TEST(RecoveryCodesProvider, DrawsAgainUntilTheCodesAreDistinct) {
  StuckRandom random(5);
  RecoveryCodesProvider provider(random);
  Result<Enrollment> e = provider.begin_enrollment(UserRef{1, 1, "a@example.com", "Acme"}, nullptr);
  ASSERT_TRUE(e.ok());
  const std::vector<std::string> codes = shown_codes(*e);
  std::set<std::string> distinct(codes.begin(), codes.end());
  EXPECT_EQ(distinct.size(), 10u);
}

TEST(RecoveryCodesProvider, GivesUpOnARandomThatRepeatsItself) {
  StuckRandom random(-1);
  RecoveryCodesProvider provider(random);
  Result<Enrollment> e = provider.begin_enrollment(UserRef{1, 1, "a@example.com", "Acme"}, nullptr);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kInternal);
}

TEST(RecoveryCodesProvider, ReturnsTheRandomsFailure) {
  FailingRandom random;
  RecoveryCodesProvider provider(random);
  Result<Enrollment> e = provider.begin_enrollment(UserRef{1, 1, "a@example.com", "Acme"}, nullptr);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kUnavailable);
}

TEST(RecoveryCodesProvider, CodesUseTheWholeAlphabet) {
  OsRandom random;
  RecoveryCodesProvider provider(random);
  std::set<char> seen;
  for (int i = 0; i < 20; ++i) {
    Result<Enrollment> e =
        provider.begin_enrollment(UserRef{1, 1, "a@example.com", "Acme"}, nullptr);
    ASSERT_TRUE(e.ok());
    for (const std::string& code : shown_codes(*e)) {
      for (char c : code) {
        if (c != '-') seen.insert(c);
      }
    }
  }
  EXPECT_EQ(seen.size(), 31u);  // 2000 draws from 31 symbols miss one with p < 1e-26
}

}  // namespace
}  // namespace keystep
