#pragma once
// The authenticator data's fixed header (WebAuthn Level 3 §6.1): rpIdHash 32 bytes, flags 1,
// signCount 4, and the rules every ceremony applies to it. Stateless and thread-safe.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/result.h"

namespace keystep::webauthn {

inline constexpr size_t kAuthDataHeaderSize = 37;
inline constexpr size_t kRpIdHashSize = 32;
inline constexpr size_t kFlagsOffset = 32;

// Flags (§6.1).
inline constexpr uint8_t kFlagUserPresent = 0x01;
inline constexpr uint8_t kFlagUserVerified = 0x04;
inline constexpr uint8_t kFlagBackupEligible = 0x08;
inline constexpr uint8_t kFlagBackupState = 0x10;
inline constexpr uint8_t kFlagAttestedCredential = 0x40;
inline constexpr uint8_t kFlagExtensionData = 0x80;

// Checks the header of `auth_data` (raw bytes): the rpIdHash is SHA-256(rp_id) (constant
// time), user presence is flagged, user verification too when `user_verification_required`,
// and the backup state is not set without backup eligibility. libfido2 checks the first three
// again under one error code; checking here names what is wrong. On success returns the
// flags. kInvalidArgument for a header too short or inconsistent flags; kDenied otherwise,
// with a message safe to show the user.
Result<uint8_t> check_authenticator_data(std::string_view auth_data, std::string_view rp_id,
                                         bool user_verification_required);

}  // namespace keystep::webauthn
