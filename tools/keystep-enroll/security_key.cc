#include "tools/keystep-enroll/security_key.h"

namespace keystep::enroll {

Result<int64_t> enroll_security_key(const Fido2Keys& keys, AdminClient& api, Operator& op,
                                    int64_t member, const SecurityKeyOptions& options,
                                    const PinPrompt& prompt) {
  auto pending = api.begin_security_key(member, options.label);
  if (!pending) return pending.error();
  const int64_t id = pending->id;
  op.say("Touch the security key when it blinks (it asks for its PIN first if it has one)");
  auto response =
      fido2_register(keys, Fido2Request{pending->creation_options, options.origin, options.device},
                     prompt);
  if (!response) return cancel_pending(api, member, id, response.error());
  if (auto confirmed = api.confirm_security_key(member, id, *response); !confirmed)
    return cancel_pending(api, member, id, confirmed.error());
  return id;
}

}  // namespace keystep::enroll
