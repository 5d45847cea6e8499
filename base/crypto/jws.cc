#include "base/crypto/jws.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <climits>
#include <set>
#include <vector>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"
#include "base/crypto/ossl.h"

namespace keystep {
namespace {

using nlohmann::json;

constexpr size_t kEs256CoordinateBytes = 32;
constexpr int kMinRsaBits = 2048;
// Verification cost grows with the modulus; nobody signs id_tokens with more than this.
constexpr int kMaxRsaBits = 8192;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}
Error denied(std::string message) { return make_error(ErrorCode::kDenied, std::move(message)); }

std::shared_ptr<EVP_PKEY> share(ossl::PkeyPtr key) {
  return std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free);
}

// nlohmann::json::dump throws on invalid UTF-8; nothing may throw out of this module.
Result<std::string> dump(const json& value) {
  try {
    return value.dump();
  } catch (const json::exception& e) {
    return invalid(std::string("cannot serialize JSON: ") + e.what());
  }
}

std::string bn_bytes(const BIGNUM* bn, size_t pad_to = 0) {
  const size_t n = pad_to != 0 ? pad_to : static_cast<size_t>(BN_num_bytes(bn));
  std::string out(n, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  return out;
}

Result<std::string> bn_param_b64url(const EVP_PKEY* key, const char* name, size_t pad_to = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    return ossl::error(ErrorCode::kInternal, std::string("cannot read key parameter ") + name);
  }
  ossl::BnPtr bn(raw);
  return base64url_encode(bn_bytes(bn.get(), pad_to));
}

bool is_p256(const EVP_PKEY* key) {
  char group[64];
  size_t len = 0;
  return EVP_PKEY_is_a(key, "EC") &&
         EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                        &len) == 1 &&
         std::string_view(group, len) == "prime256v1";
}

Status check_key_for_alg(const EVP_PKEY* key, std::string_view alg) {
  if (alg == "RS256") {
    if (!EVP_PKEY_is_a(key, "RSA")) return invalid("RS256 requires an RSA key");
    const int bits = EVP_PKEY_get_bits(key);
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
      return invalid("RSA key size must be between 2048 and 8192 bits");
    }
    return {};
  }
  if (alg == "ES256") {
    if (!is_p256(key)) return invalid("ES256 requires a P-256 EC key");
    return {};
  }
  return invalid("unsupported JWS algorithm \"" + std::string(alg) + "\"");
}

// The public JWK of key, with kid set to its RFC 7638 thumbprint.
Result<json> public_jwk(const EVP_PKEY* key, std::string_view alg) {
  json jwk;
  if (alg == "RS256") {
    Result<std::string> n = bn_param_b64url(key, OSSL_PKEY_PARAM_RSA_N);
    if (!n) return n.error();
    Result<std::string> e = bn_param_b64url(key, OSSL_PKEY_PARAM_RSA_E);
    if (!e) return e.error();
    jwk = {{"kty", "RSA"}, {"n", *n}, {"e", *e}};
  } else {
    Result<std::string> x = bn_param_b64url(key, OSSL_PKEY_PARAM_EC_PUB_X, kEs256CoordinateBytes);
    if (!x) return x.error();
    Result<std::string> y = bn_param_b64url(key, OSSL_PKEY_PARAM_EC_PUB_Y, kEs256CoordinateBytes);
    if (!y) return y.error();
    jwk = {{"kty", "EC"}, {"crv", "P-256"}, {"x", *x}, {"y", *y}};
  }
  Result<std::string> kid = jwk_thumbprint(jwk);
  if (!kid) return kid.error();
  jwk["kid"] = *kid;
  jwk["use"] = "sig";
  jwk["alg"] = std::string(alg);
  return jwk;
}

Result<std::string> private_pem(EVP_PKEY* key) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return ossl::error(ErrorCode::kInternal, "cannot write private key PEM");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// A required base64url string member of a JWK, decoded.
Result<std::string> jwk_member(const json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return invalid(std::string("JWK member \"") + name + "\" missing or not a string");
  }
  Result<std::string> decoded = base64url_decode(it->get_ref<const std::string&>());
  if (!decoded || decoded->empty()) {
    return invalid(std::string("JWK member \"") + name + "\" is not valid base64url");
  }
  return decoded;
}

Result<ossl::PkeyPtr> pkey_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  ossl::ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return ossl::error(ErrorCode::kInvalidArgument, std::string("invalid ") + type + " JWK");
  }
  ossl::PkeyPtr key(raw);
  ossl::PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return ossl::error(ErrorCode::kInvalidArgument, std::string("invalid ") + type + " JWK");
  }
  return key;
}

Result<ossl::PkeyPtr> import_rsa_jwk(const json& jwk) {
  Result<std::string> n = jwk_member(jwk, "n");
  if (!n) return n.error();
  Result<std::string> e = jwk_member(jwk, "e");
  if (!e) return e.error();
  ossl::BnPtr n_bn(BN_bin2bn(bytes(*n), static_cast<int>(n->size()), nullptr));
  ossl::BnPtr e_bn(BN_bin2bn(bytes(*e), static_cast<int>(e->size()), nullptr));
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!n_bn || !e_bn || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1) {
    return ossl::error(ErrorCode::kInternal, "cannot build RSA parameters");
  }
  return pkey_from_params("RSA", bld.get());
}

Result<ossl::PkeyPtr> import_ec_jwk(const json& jwk) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || *crv != "P-256") return invalid("ES256 JWK must have crv P-256");
  Result<std::string> x = jwk_member(jwk, "x");
  if (!x) return x.error();
  Result<std::string> y = jwk_member(jwk, "y");
  if (!y) return y.error();
  if (x->size() != kEs256CoordinateBytes || y->size() != kEs256CoordinateBytes) {
    return invalid("P-256 JWK coordinates must be 32 bytes");
  }
  const std::string point = "\x04" + *x + *y;  // SEC1 uncompressed
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return ossl::error(ErrorCode::kInternal, "cannot build EC parameters");
  }
  return pkey_from_params("EC", bld.get());
}

// DER ECDSA-Sig-Value -> JOSE r||s, each left-padded to 32 bytes.
Result<std::string> der_to_jose(std::string_view der) {
  const unsigned char* p = bytes(der);
  ossl::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return ossl::error(ErrorCode::kInternal, "cannot parse ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  return bn_bytes(r, kEs256CoordinateBytes) + bn_bytes(s, kEs256CoordinateBytes);
}

// JOSE r||s -> DER ECDSA-Sig-Value.
Result<std::string> jose_to_der(std::string_view jose) {
  ossl::EcdsaSigPtr sig(ECDSA_SIG_new());
  ossl::BnPtr r(BN_bin2bn(bytes(jose), kEs256CoordinateBytes, nullptr));
  ossl::BnPtr s(BN_bin2bn(bytes(jose) + kEs256CoordinateBytes, kEs256CoordinateBytes, nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return ossl::error(ErrorCode::kInternal, "cannot build ECDSA signature");
  }
  r.release();  // owned by sig now
  s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return ossl::error(ErrorCode::kInternal, "cannot encode ECDSA signature");
  std::string der(static_cast<size_t>(len), '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_ECDSA_SIG(sig.get(), &p);
  return der;
}

Result<json> parse_object(std::string_view b64, const char* what) {
  Result<std::string> text = base64url_decode(b64);
  if (!text) return invalid(std::string("JWS ") + what + " is not valid base64url");
  json value = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) return invalid(std::string("JWS ") + what + " is not a JSON object");
  return value;
}

}  // namespace

Result<std::string> jwk_thumbprint(const json& jwk) {
  if (!jwk.is_object()) return invalid("JWK is not an object");
  auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) return invalid("JWK has no kty");
  static const std::vector<const char*> kRsaMembers = {"e", "kty", "n"};
  static const std::vector<const char*> kEcMembers = {"crv", "kty", "x", "y"};
  const std::vector<const char*>* members = nullptr;
  if (*kty == "RSA") {
    members = &kRsaMembers;
  } else if (*kty == "EC") {
    members = &kEcMembers;
  } else {
    return invalid("unsupported JWK kty for a thumbprint");
  }
  // nlohmann::json keeps object members sorted and dump() emits no whitespace: exactly
  // the canonical form RFC 7638 §3.2 asks for.
  json required = json::object();
  for (const char* name : *members) {
    auto it = jwk.find(name);
    if (it == jwk.end() || !it->is_string()) {
      return invalid(std::string("JWK member \"") + name + "\" missing or not a string");
    }
    required[name] = *it;
  }
  Result<std::string> canonical = dump(required);
  if (!canonical) return canonical.error();
  return sha256_b64url(*canonical);
}

Result<KeyPair> generate_signing_key(std::string_view alg) {
  EVP_PKEY* raw = nullptr;
  if (alg == "RS256") {
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(kMinRsaBits));
  } else if (alg == "ES256") {
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  } else {
    return invalid("unsupported signing algorithm \"" + std::string(alg) + "\"");
  }
  if (raw == nullptr) return ossl::error(ErrorCode::kInternal, "key generation failed");
  ossl::PkeyPtr key(raw);
  Result<json> jwk = public_jwk(key.get(), alg);
  if (!jwk) return jwk.error();
  Result<std::string> pem = private_pem(key.get());
  if (!pem) return pem.error();
  Result<std::string> jwk_text = dump(*jwk);
  if (!jwk_text) return jwk_text.error();
  return KeyPair{(*jwk)["kid"].get<std::string>(), std::string(alg), std::move(*pem),
                 std::move(*jwk_text)};
}

Result<JwsSigner> JwsSigner::from_private_pem(std::string kid, std::string alg,
                                              std::string_view pem) {
  if (pem.empty() || pem.size() > INT_MAX) return invalid("private key PEM has a bad size");
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return ossl::error(ErrorCode::kInternal, "cannot allocate BIO");
  ossl::PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return ossl::error(ErrorCode::kInvalidArgument, "cannot parse private key PEM");
  if (Status s = check_key_for_alg(key.get(), alg); !s) return s.error();
  return JwsSigner(std::move(kid), std::move(alg), share(std::move(key)));
}

Result<std::string> JwsSigner::sign(const json& claims, std::string_view typ) const {
  if (!claims.is_object()) return invalid("JWT claims must be a JSON object");
  json header_json = {{"alg", alg_}, {"typ", typ}};
  if (!kid_.empty()) header_json["kid"] = kid_;
  Result<std::string> header = dump(header_json);
  if (!header) return header.error();
  Result<std::string> payload = dump(claims);
  if (!payload) return payload.error();
  std::string input = base64url_encode(*header) + "." + base64url_encode(*payload);

  // A context per call: EVP_MD_CTX is not thread-safe, the shared EVP_PKEY is for reading.
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key_.get(), nullptr) !=
          1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, bytes(input), input.size()) != 1) {
    return ossl::error(ErrorCode::kInternal, "JWS signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, bytes(input),
                     input.size()) != 1) {
    return ossl::error(ErrorCode::kInternal, "JWS signing failed");
  }
  sig.resize(len);
  if (alg_ == "ES256") {
    Result<std::string> jose = der_to_jose(sig);
    if (!jose) return jose.error();
    sig = std::move(*jose);
  }
  return input + "." + base64url_encode(sig);
}

Result<JwsVerifier> JwsVerifier::from_jwks(const json& jwks) {
  auto keys_it = jwks.find("keys");  // end() for a non-object too
  if (keys_it == jwks.end() || !keys_it->is_array()) {
    return invalid("JWK Set must be an object with a \"keys\" array");
  }
  std::vector<Key> keys;
  std::set<std::string> kids;
  for (const json& jwk : *keys_it) {
    if (!jwk.is_object()) return invalid("JWK Set member is not an object");
    auto use = jwk.find("use");
    if (use != jwk.end() && *use != "sig") continue;
    auto kty_it = jwk.find("kty");
    if (kty_it == jwk.end() || !kty_it->is_string()) return invalid("JWK has no kty");
    const std::string& kty = kty_it->get_ref<const std::string&>();
    std::string alg;
    if (auto it = jwk.find("alg"); it != jwk.end()) {
      if (!it->is_string()) return invalid("JWK alg is not a string");
      alg = it->get<std::string>();
    } else if (kty == "RSA") {
      alg = "RS256";
    } else if (kty == "EC" && jwk.value("crv", json()) == "P-256") {
      alg = "ES256";
    }
    if (alg != "RS256" && alg != "ES256") continue;

    Result<ossl::PkeyPtr> key = invalid("JWK kty \"" + kty + "\" does not fit alg " + alg);
    if (alg == "RS256" && kty == "RSA") key = import_rsa_jwk(jwk);
    if (alg == "ES256" && kty == "EC") key = import_ec_jwk(jwk);
    if (!key) return key.error();
    if (Status s = check_key_for_alg(key->get(), alg); !s) return s.error();

    std::string kid;
    if (auto it = jwk.find("kid"); it != jwk.end()) {
      if (!it->is_string()) return invalid("JWK kid is not a string");
      kid = it->get<std::string>();
    }
    if (!kids.insert(kid).second) return invalid("JWK Set has two keys with kid \"" + kid + "\"");
    keys.push_back(Key{std::move(kid), std::move(alg), share(std::move(*key))});
  }
  if (keys.empty()) return invalid("JWK Set has no RS256 or ES256 signing key");
  return JwsVerifier(std::move(keys));
}

Result<json> JwsVerifier::verify(std::string_view compact) const {
  const size_t dot1 = compact.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || compact.find('.', dot2 + 1) != std::string_view::npos) {
    return invalid("JWS must have exactly three parts");
  }
  const std::string_view signing_input = compact.substr(0, dot2);
  Result<json> header = parse_object(compact.substr(0, dot1), "header");
  if (!header) return header.error();

  auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) return invalid("JWS header has no alg");
  const std::string& alg = alg_it->get_ref<const std::string&>();
  if (alg != "RS256" && alg != "ES256") return denied("JWS algorithm \"" + alg + "\" refused");
  // RFC 7515 §4.1.11: extensions we do not understand must make the JWS invalid.
  if (header->contains("crit")) return denied("JWS crit header refused");

  const Key* key = nullptr;
  if (auto kid_it = header->find("kid"); kid_it != header->end()) {
    if (!kid_it->is_string()) return invalid("JWS kid is not a string");
    for (const Key& k : keys_) {
      if (k.kid == kid_it->get_ref<const std::string&>()) key = &k;
    }
    if (key == nullptr) return denied("JWS signed with an unknown key");
  } else {
    if (keys_.size() != 1) return denied("JWS has no kid");
    key = &keys_.front();
  }
  if (key->alg != alg) return denied("JWS algorithm does not match the key");

  Result<std::string> sig = base64url_decode(compact.substr(dot2 + 1));
  if (!sig) return invalid("JWS signature is not valid base64url");
  if (alg == "ES256") {
    if (sig->size() != 2 * kEs256CoordinateBytes) return denied("JWS signature invalid");
    Result<std::string> der = jose_to_der(*sig);
    if (!der) return der.error();
    *sig = std::move(*der);
  } else if (sig->size() != static_cast<size_t>(EVP_PKEY_get_size(key->pkey.get()))) {
    // OpenSSL would accept a shorter RSA signature with its leading zeros stripped.
    return denied("JWS signature invalid");
  }

  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr,
                                      key->pkey.get(), nullptr) != 1) {
    return ossl::error(ErrorCode::kInternal, "JWS verification setup failed");
  }
  if (EVP_DigestVerify(ctx.get(), bytes(*sig), sig->size(), bytes(signing_input),
                       signing_input.size()) != 1) {
    return ossl::error(ErrorCode::kDenied, "JWS signature invalid");
  }
  return parse_object(compact.substr(dot1 + 1, dot2 - dot1 - 1), "payload");
}

}  // namespace keystep
