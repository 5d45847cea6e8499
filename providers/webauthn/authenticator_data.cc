#include "providers/webauthn/authenticator_data.h"

#include "base/crypto/hash.h"

namespace keystep::webauthn {

Result<uint8_t> check_authenticator_data(std::string_view auth_data, std::string_view rp_id,
                                         bool user_verification_required) {
  if (auth_data.size() < kAuthDataHeaderSize) {
    return make_error(ErrorCode::kInvalidArgument, "the authenticator data is too short");
  }
  if (!constant_time_equal(auth_data.substr(0, kRpIdHashSize), sha256(rp_id))) {
    return make_error(ErrorCode::kDenied, "the key answered for another site (rpIdHash)");
  }
  const auto flags = static_cast<uint8_t>(auth_data[kFlagsOffset]);
  if (!(flags & kFlagUserPresent)) {
    return make_error(ErrorCode::kDenied, "the key did not see a touch (user presence)");
  }
  if (user_verification_required && !(flags & kFlagUserVerified)) {
    return make_error(ErrorCode::kDenied,
                      "the key did not verify the user (PIN or biometrics), which is required");
  }
  if ((flags & kFlagBackupState) && !(flags & kFlagBackupEligible)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the authenticator data says backed up but not backup eligible");
  }
  return flags;
}

}  // namespace keystep::webauthn
