#pragma once
// Tests that need an account to enforce 2FA (or not) without going through the admin API set
// it here, through the store method the admin API uses, with no emails.

#include <string>

#include "base/result.h"
#include "idp/store/store.h"

namespace keystep::testsupport {

// Sets the account-level setting and the per-provider settings of `account_id`, whatever the
// setting was before. kNotFound for an unknown account.
inline Status set_account_mfa(Store& store, int64_t account_id, bool enforce_two_factor,
                              const std::string& mfa_settings_json = "{}") {
  auto account = store.account_by_id(account_id);
  if (!account) return account.error();
  AccountMfaChange change;
  change.account_id = account_id;
  change.was_enforced = account->enforce_two_factor;
  change.enforce_two_factor = enforce_two_factor;
  change.mfa_settings_json = mfa_settings_json;
  return store.update_account_mfa(change);
}

}  // namespace keystep::testsupport
