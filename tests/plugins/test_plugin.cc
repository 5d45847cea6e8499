// A small MFA provider built as a shared library, to test the plugin loader and a login
// through a plugin. The variant is chosen at build time:
//   KEYSTEP_TEST_PLUGIN_GOOD       id "static_code", current ABI
//   KEYSTEP_TEST_PLUGIN_BAD_ABI    built for ABI version 999
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
      const keystep::UserRef& user, const keystep::ProviderSettings&) override {
    keystep::Enrollment enrollment;
    enrollment.pending.user_id = user.user_id;
    enrollment.pending.provider_id = info_.id;
    enrollment.pending.secret = "static";
    enrollment.display_secret = std::string(kTestCode);
    return enrollment;
  }
  keystep::Result<keystep::MfaCredential> finish_enrollment(const keystep::MfaCredential& pending,
                                                            std::string_view response,
                                                            int64_t now) override {
    auto checked = verify(pending, {}, response, now);
    if (checked) checked->confirmed = true;
    return checked;
  }
  keystep::Result<keystep::Challenge> begin_challenge(const keystep::MfaCredential&) override {
    return keystep::Challenge{};
  }
  keystep::Result<keystep::MfaCredential> verify(const keystep::MfaCredential& credential,
                                                 const keystep::Challenge&,
                                                 std::string_view response,
                                                 int64_t now) override {
    if (response != kTestCode) return keystep::make_error(keystep::ErrorCode::kDenied, "wrong code");
    keystep::MfaCredential updated = credential;
    updated.last_used_at = now;
    return updated;
  }

 private:
  keystep::ProviderInfo info_;
};

#if defined(KEYSTEP_TEST_PLUGIN_DUPLICATE)
constexpr const char* kId = "totp";
#else
constexpr const char* kId = "static_code";
#endif

#if defined(KEYSTEP_TEST_PLUGIN_BAD_ABI)
constexpr uint32_t kAbi = 999;
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
