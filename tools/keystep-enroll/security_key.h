#pragma once
// Registering one FIDO2 security key for one member (`keystep-enroll fido2`): the server
// begins (it keeps the challenge of the creation options pending), the key makes a credential
// through libfido2 (fido2_client.h), the server verifies and confirms it.

#include <cstdint>
#include <string>

#include "base/result.h"
#include "tools/keystep-enroll/admin_client.h"
#include "tools/keystep-enroll/enroll.h"
#include "tools/keystep-enroll/fido2_client.h"

namespace keystep::enroll {

struct SecurityKeyOptions {
  std::string origin;  // the issuer's origin (origin_of(--issuer)), named in clientDataJSON
  std::string device;  // the key's path (choose_fido2_key)
  std::string label;   // "" lets the server name it ("Security key")
};

// Registers the key of `keys` at options.device for the member `member`:
//  1. begins a pending credential (AdminClient::begin_security_key);
//  2. asks the operator to touch the key and has it make the credential (fido2_register,
//     the PIN from `prompt` when the key has one);
//  3. confirms it with the key's response.
// On success returns the credential id. On failure the error of the step that failed, its
// message to show as is (fido2_register's and AdminClient's); after step 1 the pending
// credential is removed again and the message says whether that worked.
Result<int64_t> enroll_security_key(const Fido2Keys& keys, AdminClient& api, Operator& op,
                                    int64_t member, const SecurityKeyOptions& options,
                                    const PinPrompt& prompt);

}  // namespace keystep::enroll
