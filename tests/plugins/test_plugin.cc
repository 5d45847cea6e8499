// A small MFA provider built as a shared library, to test the plugin loader and a login
// through a plugin. The variant is chosen at build time:
//   KEYSTEP_TEST_PLUGIN_GOOD       id "static_code", the server's ABI (KEYSTEP_MFA_ABI_VERSION)
//   KEYSTEP_TEST_PLUGIN_BAD_ABI    declares ABI version 1, as a plugin built before
//                                  interface version 2 does
//   KEYSTEP_TEST_PLUGIN_DUPLICATE  id "totp", which a built-in already has
//   KEYSTEP_TEST_PLUGIN_NO_SYMBOL  exports no entry point
// Its factor is a fixed code, kTestCode: enough to exercise the framework, never a real one.

#include "plugin/abi.h"
#include "plugin/mfa_provider.h"

namespace {

constexpr std::string_view kTestCode = "424242";

class StaticCodeProvider final : public keystep::MfaProvider {
 public:
  explicit StaticCodeProvider(std::string id)
      : info_{std::move(id), "Static test code", {"otp"}, keystep::ProviderKind::kSoft, false} {}
  const keystep::ProviderInfo& info() const override { return info_; }
  keystep::Result<keystep::Enrollment> begin_enrollment(
      const keystep::UserRef& user, const keystep::ProviderSettings& settings) override {
    if (auto checked = validate_settings(settings); !checked) return checked.error();
    keystep::Enrollment enrollment;
    enrollment.pending.user_id = user.user_id;
    enrollment.pending.provider_id = info_.id;
    enrollment.pending.secret = "static";
    enrollment.client_options = {{keystep::kOptionManualKey, std::string(kTestCode)}};
    enrollment.input = input();
    return enrollment;
  }
  keystep::Result<keystep::MfaCredential> finish_enrollment(
      const keystep::MfaCredential& pending, std::string_view response,
      const keystep::ChallengeContext& context) override {
    auto checked = verify(pending, {}, response, context);
    if (checked) checked->confirmed = true;
    return checked;
  }
  keystep::Result<keystep::Challenge> begin_challenge(std::span<const keystep::MfaCredential>,
                                                      const keystep::ChallengeContext&) override {
    keystep::Challenge challenge;
    challenge.input = input();
    return challenge;
  }
  keystep::Result<keystep::MfaCredential> verify(const keystep::MfaCredential& credential,
                                                 const keystep::Challenge&,
                                                 std::string_view response,
                                                 const keystep::ChallengeContext& context) override {
    if (response != kTestCode) return keystep::make_error(keystep::ErrorCode::kDenied, "wrong code");
    keystep::MfaCredential updated = credential;
    updated.last_used_at = context.now;
    return updated;
  }
  // Public details as a plugin shows them to an administrator: the code's length.
  nlohmann::json public_details(const keystep::MfaCredential&) const override {
    return {{"code_length", kTestCode.size()}};
  }
  std::vector<keystep::DetailField> describe_details() const override {
    return {{"code_length", "Code length"}};
  }

 private:
  static keystep::ResponseInput input() {
    keystep::ResponseInput input;
    input.min_length = input.max_length = static_cast<int>(kTestCode.size());
    input.characters = "0123456789";
    return input;
  }

  keystep::ProviderInfo info_;
};

#if defined(KEYSTEP_TEST_PLUGIN_DUPLICATE)
constexpr const char* kId = "totp";
#else
constexpr const char* kId = "static_code";
#endif

#if defined(KEYSTEP_TEST_PLUGIN_BAD_ABI)
constexpr uint32_t kAbi = 1;
#else
constexpr uint32_t kAbi = KEYSTEP_MFA_ABI_VERSION;
#endif

keystep::MfaProvider* create(const KeystepPluginHost*) { return new StaticCodeProvider(kId); }
void destroy(keystep::MfaProvider* provider) { delete provider; }

const KeystepPluginDescriptor kDescriptor = {kAbi, "static-code-test", create, destroy};

}  // namespace

#if !defined(KEYSTEP_TEST_PLUGIN_NO_SYMBOL)
KEYSTEP_MFA_PLUGIN(kDescriptor)
#else
extern "C" const KeystepPluginDescriptor* some_other_symbol(void) { return &kDescriptor; }
#endif
