#include "idp/oidc/signing_keys.h"

#include <algorithm>
#include <iterator>

namespace keystep {
namespace {
// Additional data binding a sealed private key to its kid, so keys cannot be swapped in
// the database.
std::string key_aad(const std::string& kid) { return "keystep signing key " + kid; }
}  // namespace

Result<std::string> SigningKeys::rotate(const std::string& alg, Random& random) {
  auto pair = generate_signing_key(alg);
  if (!pair) return pair.error();
  auto sealed = box_.seal(pair->private_pem, key_aad(pair->kid), random);
  if (!sealed) return sealed.error();
  SigningKey key{pair->kid, pair->alg, *sealed, pair->public_jwk, true, clock_.now()};
  if (auto s = store_.add_signing_key(key); !s) return s.error();
  std::lock_guard lock(mu_);
  loaded_.reset();
  return pair->kid;
}

Result<std::shared_ptr<const SigningKeys::Loaded>> SigningKeys::current() {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.now();
  if (loaded_ && now < loaded_->reload_at) return loaded_;
  auto keys = store_.signing_keys();
  if (!keys) return keys.error();
  if (keys->empty() || !keys->front().active)
    return make_error(ErrorCode::kUnavailable, "no active signing key; run keystep init");
  auto loaded = std::make_shared<Loaded>();
  loaded->jwks = {{"keys", nlohmann::json::array()}};
  for (const auto& key : *keys) {
    auto jwk = nlohmann::json::parse(key.public_jwk, nullptr, false);
    if (jwk.is_discarded())
      return make_error(ErrorCode::kInternal, "stored JWK of key " + key.kid + " is corrupt");
    loaded->jwks["keys"].push_back(std::move(jwk));
  }
  // Active first, then newest first: the first key every node has had time to publish.
  const int64_t published_before = now - kReloadSeconds;
  auto signing = std::find_if(keys->begin(), keys->end(), [&](const SigningKey& key) {
    return key.created_at <= published_before;
  });
  loaded->reload_at = now + kReloadSeconds;
  if (signing != keys->begin()) {
    loaded->reload_at = std::min(loaded->reload_at, keys->front().created_at + kReloadSeconds);
    // None is that old (a rotation soon after init): the oldest has been published longest.
    if (signing == keys->end()) signing = std::prev(keys->end());
  }
  auto pem = box_.open(signing->sealed_private_key, key_aad(signing->kid));
  if (!pem)
    return make_error(ErrorCode::kInternal, "cannot unseal signing key " + signing->kid +
                                                " (wrong master key?): " + pem.error().message);
  auto signer = JwsSigner::from_private_pem(signing->kid, signing->alg, *pem);
  if (!signer) return signer.error();
  auto verifier = JwsVerifier::from_jwks(loaded->jwks);
  if (!verifier) return verifier.error();
  loaded->signer = std::make_shared<JwsSigner>(std::move(*signer));
  loaded->verifier = std::make_shared<JwsVerifier>(std::move(*verifier));
  loaded->jwks_text = std::make_shared<const std::string>(loaded->jwks.dump());
  loaded_ = loaded;
  return loaded_;
}

Result<std::string> SigningKeys::sign(const nlohmann::json& claims, std::string_view typ) {
  auto keys = current();
  if (!keys) return keys.error();
  return (*keys)->signer->sign(claims, typ);
}

Result<nlohmann::json> SigningKeys::verify(std::string_view compact) {
  auto keys = current();
  if (!keys) return keys.error();
  return (*keys)->verifier->verify(compact);
}

Result<std::shared_ptr<const std::string>> SigningKeys::jwks_text() {
  auto keys = current();
  if (!keys) return keys.error();
  return (*keys)->jwks_text;
}

Result<nlohmann::json> SigningKeys::jwks() {
  auto keys = current();
  if (!keys) return keys.error();
  return (*keys)->jwks;
}

}  // namespace keystep
