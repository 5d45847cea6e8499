// WebAuthn responses (providers/webauthn): what a browser posts at registration and sign-in,
// and the CBOR attestationObject inside, all untrusted.
//
// Input: a first byte choosing the path, then
//   'C'  the raw bytes of an attestationObject, checked by webauthn::verify_attestation
//        (libcbor decoding, the authenticator data, libfido2's signature checks) against a
//        fixed clientDataJSON;
//   'J'  a registration response JSON, ASCII RS (0x1e), an assertion response JSON: the first
//        goes through finish_enrollment for a pending credential with a fixed challenge, and
//        when it is accepted the second through verify() with another fixed challenge.
// The seeds (corpus/webauthn_fuzz/) are recordings from Chromium's virtual authenticator for
// the origin and challenges below, so the accepting paths are reached. Properties:
//  - no exception, crash or leak; never kInternal for these well-formed pending credentials
//    and challenges (a response, however bad, is the client's fault);
//  - finish_enrollment answers kInvalidArgument or kDenied, or a confirmed credential with a
//    lookup key and an accepted algorithm;
//  - verify answers kInvalidArgument, kDenied, kReplayed or kCloned, or a credential whose
//    counter moved forward (or stayed 0 for a key without one) and whose replay guard is this
//    challenge, and then the same response again is kReplayed.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "base/crypto/encoding.h"
#include "providers/webauthn/attestation.h"
#include "providers/webauthn/webauthn_provider.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using keystep::ErrorCode;

constexpr const char* kOrigin = "http://localhost:36485";
constexpr const char* kRpId = "localhost";
constexpr const char* kRegistrationChallenge = "ZdaE28Z-9Kj9-ix47JAYXiG6DgHV-arz-Rftu5b0jiY";
constexpr const char* kAssertionChallenge = "wxzjEB_l30ReO5yZfUUKTNyXqxHfwicNIpRp2yqsLFU";
constexpr const char* kClientData =
    R"({"type":"webauthn.create","challenge":"AAAA","origin":"http://localhost:36485"})";

void attestation_object(std::string_view bytes) {
  const keystep::webauthn::ExpectedRegistration expected{kRpId, kClientData, false, nullptr,
                                                         keystep::fuzz::FixedClock::kStart};
  auto attested = keystep::webauthn::verify_attestation(bytes, expected);
  if (!attested) {
    FUZZ_CHECK(attested.error().code == ErrorCode::kInvalidArgument ||
               attested.error().code == ErrorCode::kDenied);
    return;
  }
  FUZZ_CHECK(!attested->id.empty() && !attested->public_key.empty());
  FUZZ_CHECK(attested->aaguid.size() == 16);
  FUZZ_CHECK(attested->flags & keystep::webauthn::kFlagUserPresent);
}

void ceremonies(keystep::WebAuthnProvider& provider, const std::string& registration,
                const std::string& assertion) {
  keystep::ChallengeContext context;
  context.now = keystep::fuzz::FixedClock::kStart;
  context.rp_id = kRpId;
  context.origin = kOrigin;
  keystep::MfaCredential pending;
  pending.user_id = 42;
  pending.provider_id = "webauthn";
  pending.params = provider.default_settings();
  pending.state = {{"challenge", kRegistrationChallenge}};
  pending.created_at = context.now;
  (void)provider.lookup_key(registration);
  auto confirmed = provider.finish_enrollment(pending, registration, context);
  if (!confirmed) {
    FUZZ_CHECK(confirmed.error().code == ErrorCode::kInvalidArgument ||
               confirmed.error().code == ErrorCode::kDenied);
    return;
  }
  FUZZ_CHECK(confirmed->confirmed && !confirmed->lookup_key.empty());
  FUZZ_CHECK(confirmed->params["alg"] == -7 || confirmed->params["alg"] == -8 ||
             confirmed->params["alg"] == -257);

  keystep::Challenge challenge;
  challenge.server_state = kAssertionChallenge;
  challenge.expires_at = context.now + 60;
  (void)provider.lookup_key(assertion);
  auto used = provider.verify(*confirmed, challenge, assertion, context);
  if (!used) {
    const ErrorCode code = used.error().code;
    FUZZ_CHECK(code == ErrorCode::kInvalidArgument || code == ErrorCode::kDenied ||
               code == ErrorCode::kReplayed || code == ErrorCode::kCloned);
    return;
  }
  FUZZ_CHECK(used->counter > confirmed->counter || (used->counter == 0 && confirmed->counter == 0));
  FUZZ_CHECK(used->state["last_challenge"] == kAssertionChallenge);
  auto again = provider.verify(*used, challenge, assertion, context);
  FUZZ_CHECK(!again && again.error().code == ErrorCode::kReplayed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static keystep::OsRandom random;
  static keystep::WebAuthnProvider provider(random, keystep::webauthn::AttestationRoots());
  const std::string_view text = keystep::fuzz::as_text(data, size);
  if (text.empty()) return 0;
  if (text[0] == 'C') {
    attestation_object(text.substr(1));
  } else if (text[0] == 'J') {
    const auto fields =
        keystep::fuzz::split_fields(text.substr(1), 2, keystep::fuzz::kFieldSeparator);
    ceremonies(provider, fields[0], fields[1]);
  }
  return 0;
}
