#include "idp/oidc/provider.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <sstream>

#include "base/crypto/encoding.h"
#include "base/crypto/hash.h"
#include "base/words.h"
#include "idp/directory/directory.h"
#include "idp/observability/observability.h"
#include "idp/directory/redirect_uri.h"
#include "idp/oidc/claims_request.h"
#include "idp/oidc/pkce.h"

namespace keystep {

namespace {

// OAuth forbids repeating a parameter (RFC 6749 §3.1); returns the first repeated one.
std::optional<std::string> repeated_param(const Params& params) {
  for (const auto& [name, value] : params) {
    if (has_duplicate(params, name)) return name;
  }
  return std::nullopt;
}

std::optional<std::string> bearer_token(const std::optional<std::string>& authorization) {
  if (!authorization) return std::nullopt;
  constexpr std::string_view kScheme = "bearer ";
  if (authorization->size() <= kScheme.size()) return std::nullopt;
  std::string scheme = authorization->substr(0, kScheme.size());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), ::tolower);
  if (scheme != kScheme) return std::nullopt;
  return authorization->substr(kScheme.size());
}

}  // namespace

Provider::Provider(const IdpConfig& config, Store& store, SigningKeys& keys,
                   const PasswordHasher& hasher, TwoFactor& two_factor,
                   FactorNotifier& notices, Random& random, const Clock& clock)
    : config_(config),
      store_(store),
      keys_(keys),
      two_factor_(two_factor),
      random_(random),
      clock_(clock),
      cors_(store),
      discovery_document_(discovery().dump()),
      login_(config, store, hasher, two_factor, notices, *this, random, clock) {}

nlohmann::json Provider::discovery() const {
  const std::string& iss = config_.issuer;
  return {
      {"issuer", iss},
      {"authorization_endpoint", iss + "/authorize"},
      {"token_endpoint", iss + "/token"},
      {"userinfo_endpoint", iss + "/userinfo"},
      {"jwks_uri", iss + "/jwks.json"},
      {"end_session_endpoint", iss + "/logout"},
      {"revocation_endpoint", iss + "/revoke"},
      {"revocation_endpoint_auth_methods_supported",
       {"client_secret_basic", "client_secret_post", "none"}},
      {"introspection_endpoint", iss + "/introspect"},
      {"introspection_endpoint_auth_methods_supported",
       {"client_secret_basic", "client_secret_post"}},
      {"scopes_supported", {"openid", "email", "profile", "offline_access"}},
      {"response_types_supported", {"code"}},
      {"response_modes_supported", {"query"}},
      {"grant_types_supported", {"authorization_code", "refresh_token"}},
      {"subject_types_supported", {"public"}},
      {"id_token_signing_alg_values_supported", {"RS256", "ES256"}},
      {"token_endpoint_auth_methods_supported",
       {"client_secret_basic", "client_secret_post", "none"}},
      {"code_challenge_methods_supported", {"S256"}},
      {"claims_supported", supported_claims()},
      {"acr_values_supported", {kAcrPassword, kAcrMfa}},
      {"prompt_values_supported", {"none", "login", "consent", "select_account"}},
      {"claims_parameter_supported", true},
      {"request_parameter_supported", false},
      {"request_uri_parameter_supported", false},
      {"authorization_response_iss_parameter_supported", true},
      {"backchannel_logout_supported", true},
      {"backchannel_logout_session_supported", true},
  };
}

std::string Provider::hash_token(std::string_view token) const { return sha256_b64url(token); }

WebOutcome Provider::redirect_error(const AuthRequest& request, const std::string& error,
                                    const std::string& description) const {
  Params params = {{"error", error}, {"error_description", description}};
  if (!request.state.empty()) params.emplace_back("state", request.state);
  params.emplace_back("iss", config_.issuer);
  return redirect_to(append_query(request.redirect_uri, params));
}

WebOutcome Provider::authorize(const Params& query, const BrowserContext& browser) {
  AuthRequest request;
  WebOutcome refused;
  auto client = verified_client(query, request, refused);
  if (!client) return refused;
  if (auto repeated = repeated_param(query))
    return redirect_error(request, "invalid_request", *repeated + " is repeated");
  if (request.state.size() > 2048)
    return error_page(Fault::kInvalidRequest, "state is longer than 2048 characters.");
  bool prompt_none = false;
  if (auto refusal = read_request(query, *client, request, prompt_none))
    return redirect_error(request, refusal->error, refusal->description);
  auto session = current_session(store_, clock_, browser);
  if (!session) return redirect_error(request, "temporarily_unavailable", "please try again");
  if (*session) return reuse_session(request, prompt_none, **session, browser);
  if (prompt_none) return redirect_error(request, "login_required", "the user must sign in");
  return login_.start_flow(request, FlowProgress{}, browser);
}

std::optional<Client> Provider::verified_client(const Params& query, AuthRequest& request,
                                                WebOutcome& refused) {
  // Until client and redirect URI are known to be valid, errors go to an error page: sending
  // the browser to an unverified URI would make us an open redirector (RFC 6749 §4.1.2.1).
  const auto client_id = get_param(query, "client_id");
  if (!client_id || client_id->empty()) {
    refused = error_page(Fault::kInvalidRequest, "The request has no client_id.");
    return std::nullopt;
  }
  if (has_duplicate(query, "client_id") || has_duplicate(query, "redirect_uri")) {
    refused = error_page(Fault::kInvalidRequest, "client_id and redirect_uri must be given once.");
    return std::nullopt;
  }
  auto client = store_.client_by_id(*client_id);
  if (!client) {
    refused = client.error().code == ErrorCode::kNotFound
                  ? error_page(Fault::kUnknownClient, "The application is not registered here.")
                  : unavailable_page();
    return std::nullopt;
  }
  const auto redirect_uri = get_param(query, "redirect_uri");
  if (!redirect_uri) {
    refused = error_page(Fault::kInvalidRequest, "The request has no redirect_uri.");
    return std::nullopt;
  }
  if (!redirect_uri_registered(client->redirect_uris, *redirect_uri)) {
    refused = error_page(Fault::kInvalidRequest,
                         "The redirect_uri is not registered for this application.");
    return std::nullopt;
  }
  request.client_id = client->client_id;
  request.redirect_uri = *redirect_uri;
  request.state = param(query, "state");
  return *client;
}

std::optional<Provider::Refusal> Provider::read_request(const Params& query, const Client& client,
                                                        AuthRequest& request, bool& prompt_none) {
  // OIDC Core §3.1.2.6: each has its own error.
  if (get_param(query, "request_uri"))
    return Refusal{"request_uri_not_supported", "request_uri is not supported"};
  if (get_param(query, "request"))
    return Refusal{"request_not_supported", "request objects are not supported"};
  if (param(query, "response_type") != "code")
    return Refusal{"unsupported_response_type", "only response_type=code is supported"};
  if (auto mode = get_param(query, "response_mode"); mode && *mode != "query")
    return Refusal{"invalid_request", "only response_mode=query is supported"};
  const auto scopes = split_spaces(param(query, "scope"));
  if (!contains(scopes, "openid")) return Refusal{"invalid_scope", "the openid scope is required"};
  std::vector<std::string> granted;
  // offline_access asks for a refresh token: meaningless for a client that never gets one,
  // so not granted (nor asked on the consent page).
  const bool offline = client.grants.refresh_tokens != RefreshTokens::kNever;
  for (const auto& s : scopes) {
    if ((s == "openid" || s == "email" || s == "profile" || (s == "offline_access" && offline)) &&
        !contains(granted, s))
      granted.push_back(s);
  }
  request.scope = join_spaces(granted);
  request.nonce = param(query, "nonce");
  request.login_hint = param(query, "login_hint");
  if (request.nonce.size() > 512 || request.login_hint.size() > 254)
    return Refusal{"invalid_request", "nonce or login_hint is too long"};
  if (auto refusal = read_pkce(query, client, request)) return refusal;
  if (auto refusal = read_prompt(query, request, prompt_none)) return refusal;
  return read_claims(query, client, request);
}

std::optional<Provider::Refusal> Provider::read_claims(const Params& query, const Client& client,
                                                       AuthRequest& request) {
  request.require_mfa = client.require_two_factor;
  const auto text = get_param(query, "claims");
  if (!text) return std::nullopt;
  if (text->size() > 4096) return Refusal{"invalid_request", "claims is too long"};
  auto claims = parse_claims_request(*text);
  if (!claims) return Refusal{"invalid_request", claims.error().message};
  request.requested_claims = requested_claims_json(*claims);
  request.essential_acr = claims->essential_acr;
  if (claims->essential_acr.empty()) return std::nullopt;
  // Any sign-in reaches the password level; the second factor's is reached by requiring it.
  if (contains(claims->essential_acr, kAcrPassword)) return std::nullopt;
  if (!contains(claims->essential_acr, kAcrMfa))
    return Refusal{"unmet_authentication_requirements",
                   "none of the essential acr values is offered here (acr_values_supported)"};
  request.require_mfa = true;
  return std::nullopt;
}

std::optional<Provider::Refusal> Provider::read_pkce(const Params& query, const Client& client,
                                                     AuthRequest& request) {
  const auto challenge = get_param(query, "code_challenge");
  const auto method = get_param(query, "code_challenge_method");
  if (challenge) {
    if (method.value_or("plain") != "S256")
      return Refusal{"invalid_request", "code_challenge_method must be S256 (plain is refused)"};
    if (!is_valid_code_challenge(*challenge))
      return Refusal{"invalid_request", "code_challenge is malformed"};
    request.code_challenge = *challenge;
    return std::nullopt;
  }
  if (method) return Refusal{"invalid_request", "code_challenge_method without code_challenge"};
  if (client.is_public)
    return Refusal{"invalid_request", "PKCE (S256) is required for public clients"};
  return std::nullopt;
}

std::optional<Provider::Refusal> Provider::read_prompt(const Params& query, AuthRequest& request,
                                                       bool& prompt_none) {
  if (auto max_age = get_param(query, "max_age")) {
    const bool digits = !max_age->empty() && max_age->size() <= 10 &&
                        std::all_of(max_age->begin(), max_age->end(), ::isdigit);
    if (!digits) return Refusal{"invalid_request", "max_age must be a non-negative integer"};
    request.max_age = std::stoll(*max_age);
  }
  const auto prompts = split_spaces(param(query, "prompt"));
  for (const auto& p : prompts) {
    if (p != "none" && p != "login" && p != "consent" && p != "select_account")
      return Refusal{"invalid_request", "unknown prompt value " + p};
  }
  prompt_none = contains(prompts, "none");
  if (prompt_none && prompts.size() > 1)
    return Refusal{"invalid_request", "prompt=none cannot be combined"};
  request.prompt_consent = contains(prompts, "consent");
  // Choosing an account is signing in afresh: the sign-in page takes any of the user's.
  request.prompt_login = contains(prompts, "login") || contains(prompts, "select_account");
  request.acr_values = split_spaces(param(query, "acr_values"));
  return std::nullopt;
}

WebOutcome Provider::reuse_session(const AuthRequest& request, bool prompt_none,
                                   const Session& current, const BrowserContext& browser) {
  // Step-up: decide which factors of the existing session are missing or stale, and ask for
  // those only.
  auto user = store_.user_by_id(current.user_id);
  if (!user) return redirect_error(request, "temporarily_unavailable", "please try again");
  const int64_t now = clock_.now();
  // max_age=0 means the same as prompt=login (OIDC Core errata 2): whole seconds cannot tell
  // "just now" from "a moment ago".
  const auto stale = [&](int64_t at) {
    return at == 0 || request.prompt_login || (request.max_age && *request.max_age == 0) ||
           (request.max_age && now - at > *request.max_age);
  };
  auto mfa_wanted = two_factor_.second_factor_needed(*user, request);
  if (!mfa_wanted) return redirect_error(request, "temporarily_unavailable", "please try again");
  const bool password_stale = stale(current.password_time);
  const bool mfa_stale = *mfa_wanted && stale(current.mfa_time);
  if (!password_stale && !mfa_stale) return code_or_consent(request, current, prompt_none);
  if (prompt_none) return redirect_error(request, "login_required", "the user must sign in");
  FlowProgress progress;
  if (!password_stale) {
    progress.stage = LoginStage::kSecondFactor;
    progress.user_id = current.user_id;
  }
  return login_.start_flow(request, progress, browser);
}

WebOutcome Provider::flow_completed(const AuthRequest& request, const Session& session,
                                    FlowStep& step) {
  return code_or_consent(request, session, false, &step);
}

WebOutcome Provider::flow_refused(const AuthRequest& request, const std::string& error,
                                  const std::string& description) {
  return redirect_error(request, error, description);
}

std::optional<std::string> Provider::code_acr(const AuthRequest& request, const Session& session,
                                              bool mfa_required) {
  const bool mfa = session.acr == kAcrMfa;
  if (mfa_required && !mfa) return std::nullopt;
  const auto& wanted = request.essential_acr;
  if (wanted.empty() || contains(wanted, session.acr)) return session.acr;
  // A two-factor session is at the password level too (OIDC Core §5.5.1.1: the acr must be
  // one of the essential values).
  if (contains(wanted, kAcrPassword)) return std::string(kAcrPassword);
  return std::nullopt;
}

WebOutcome Provider::issue_code(const AuthRequest& request, const Session& session,
                                FlowStep* step) {
  // The flows ask for what the request requires; this is the last word: never a code at a
  // lower level than required, and so no grant for it either.
  auto user = store_.user_by_id(session.user_id);
  if (!user) return redirect_error(request, "temporarily_unavailable", "please try again");
  auto required = two_factor_.application_requires(*user, request);
  if (!required) return redirect_error(request, "temporarily_unavailable", "please try again");
  const auto acr = code_acr(request, session, *required);
  if (!acr)
    return redirect_error(request, "unmet_authentication_requirements",
                          "the sign-in did not reach the required authentication level");
  auto grant_id = random_token(random_, 16);
  auto code = random_token(random_, 32);
  if (!grant_id || !code) return redirect_error(request, "server_error", "randomness failed");
  const int64_t now = clock_.now();
  Grant grant{*grant_id,
              request.client_id,
              session.user_id,
              session.sid,
              request.scope,
              request.nonce,
              session.auth_time,
              *acr,
              session.amr,
              false,
              now,
              request.requested_claims};
  AuthCode auth_code{hash_token(*code),      *grant_id, request.redirect_uri,
                     request.code_challenge, false,     now + config_.code_ttl};
  if (step) {
    step->grant = std::move(grant);
    step->code = std::move(auth_code);
  } else if (auto s = store_.create_grant_with_code(grant, auth_code); !s) {
    return redirect_error(request, "temporarily_unavailable", "please try again");
  }
  Params params = {{"code", *code}};
  if (!request.state.empty()) params.emplace_back("state", request.state);
  params.emplace_back("iss", config_.issuer);
  return redirect_to(append_query(request.redirect_uri, params));
}

Result<Client> Provider::authenticate_client(const Params& form,
                                             const std::optional<std::string>& authorization,
                                             ApiOutcome& failure) {
  std::optional<std::string> id;
  std::optional<std::string> secret;
  const bool basic =
      authorization && authorization->size() > 6 &&
      (authorization->rfind("Basic ", 0) == 0 || authorization->rfind("basic ", 0) == 0);
  if (basic) {
    auto decoded = base64_decode(authorization->substr(6));
    const auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      failure = api_error(Fault::kInvalidClient, "malformed Basic credentials");
      failure.www_authenticate = "Basic realm=\"keystep\"";
      return make_error(ErrorCode::kUnauthenticated, "bad basic");
    }
    // RFC 6749 §2.3.1: both halves are form-urlencoded before Base64.
    auto user = url_decode(decoded->substr(0, colon), true);
    auto pass = url_decode(decoded->substr(colon + 1), true);
    if (!user || !pass) {
      failure = api_error(Fault::kInvalidClient, "malformed Basic credentials");
      failure.www_authenticate = "Basic realm=\"keystep\"";
      return make_error(ErrorCode::kUnauthenticated, "bad basic");
    }
    id = *user;
    secret = *pass;
    if (get_param(form, "client_secret")) {
      failure = api_error(Fault::kInvalidRequest, "use one client authentication method");
      return make_error(ErrorCode::kInvalidArgument, "two methods");
    }
    if (auto form_id = get_param(form, "client_id"); form_id && *form_id != *id) {
      failure = api_error(Fault::kInvalidRequest, "client_id does not match the credentials");
      return make_error(ErrorCode::kInvalidArgument, "id mismatch");
    }
  } else {
    id = get_param(form, "client_id");
    secret = get_param(form, "client_secret");
  }
  auto unauthenticated = [&](const char* why) {
    failure = api_error(Fault::kInvalidClient, why);
    if (basic) failure.www_authenticate = "Basic realm=\"keystep\"";
    return make_error(ErrorCode::kUnauthenticated, why);
  };
  if (!id || id->empty()) return unauthenticated("client authentication is required");
  auto client = store_.client_by_id(*id);
  if (!client) {
    if (client.error().code == ErrorCode::kNotFound)
      return unauthenticated("client authentication failed");
    failure = api_unavailable();
    return client.error();
  }
  if (client->is_public) {
    if (secret) return unauthenticated("client authentication failed");
    return client;
  }
  if (!secret || !verify_client_secret(client->secret_hash, *secret))
    return unauthenticated("client authentication failed");
  return client;
}

ApiOutcome Provider::client_call(const Params& form,
                                 const std::optional<std::string>& authorization,
                                 const std::optional<std::string>& origin,
                                 const std::function<ApiOutcome(const Client&)>& call) {
  auto before_client = [&](ApiOutcome out) {
    out.cors_origin = cors_.for_any_client(origin).value_or("");
    return out;
  };
  if (auto repeated = repeated_param(form))
    return before_client(api_error(Fault::kInvalidRequest, *repeated + " is repeated"));
  ApiOutcome failure;
  auto client = authenticate_client(form, authorization, failure);
  if (!client) return before_client(failure);
  const auto allowed = CorsPolicy::for_client(*client, origin);
  if (origin && !allowed)
    return api_error(Fault::kInvalidRequest,
                     "requests from " + *origin + " are not allowed for this client");
  ApiOutcome out = call(*client);
  out.cors_origin = allowed.value_or("");
  return out;
}

ApiOutcome Provider::token(const Params& form, const std::optional<std::string>& authorization,
                           const std::optional<std::string>& origin) {
  return client_call(form, authorization, origin, [&](const Client& client) {
    const std::string grant_type = param(form, "grant_type");
    if (grant_type == "authorization_code") return code_grant(client, form);
    if (grant_type == "refresh_token") return refresh_grant(client, form);
    if (grant_type.empty()) return api_error(Fault::kInvalidRequest, "grant_type is required");
    return api_error(Fault::kUnsupportedGrantType, "grant_type " + grant_type + " is not supported");
  });
}

ApiOutcome Provider::revoke(const Params& form, const std::optional<std::string>& authorization,
                            const std::optional<std::string>& origin) {
  return client_call(form, authorization, origin, [&](const Client& client) {
    const auto token = get_param(form, "token");
    if (!token || token->empty()) return api_error(Fault::kInvalidRequest, "token is required");
    // token_type_hint only speeds a search up (RFC 7009 §2.1); one lookup by hash finds either
    // kind, so it is not read.
    auto revoked = store_.revoke_token(hash_token(*token), client.client_id);
    if (revoked) return api_ok(nlohmann::json::object());
    switch (revoked.error().code) {
      case ErrorCode::kNotFound:
        // RFC 7009 §2.2: an invalid token is no error; the client's aim is met.
        return api_ok(nlohmann::json::object());
      case ErrorCode::kDenied:
        return api_error(Fault::kUnauthorizedClient, "the token was issued to another client");
      default:
        return api_unavailable();
    }
  });
}

ApiOutcome Provider::introspect(const Params& form,
                                const std::optional<std::string>& authorization,
                                const std::optional<std::string>& origin) {
  return client_call(form, authorization, origin, [&](const Client& client) {
    if (client.is_public) {
      ApiOutcome out =
          api_error(Fault::kInvalidClient, "introspection is for confidential clients only");
      if (authorization) out.www_authenticate = "Basic realm=\"keystep\"";
      return out;
    }
    const auto token = get_param(form, "token");
    if (!token || token->empty()) return api_error(Fault::kInvalidRequest, "token is required");
    const std::string hash = hash_token(*token);
    const bool refresh_first = param(form, "token_type_hint") == "refresh_token";
    const int64_t now = clock_.now();
    for (TokenKind kind : refresh_first ? std::array{TokenKind::kRefresh, TokenKind::kAccess}
                                        : std::array{TokenKind::kAccess, TokenKind::kRefresh}) {
      auto active = store_.active_token(hash, kind, now);
      if (!active) {
        const ErrorCode code = active.error().code;
        if (code == ErrorCode::kUnavailable || code == ErrorCode::kInternal)
          return api_unavailable();
        continue;
      }
      auto user = store_.user_by_id(active->grant.user_id);
      if (!user) {
        if (user.error().code == ErrorCode::kNotFound) break;
        return api_unavailable();
      }
      const Grant& grant = active->grant;
      nlohmann::json body = {
          {"active", true},
          {"scope", active->token.scope.empty() ? grant.scope : active->token.scope},
          {"client_id", grant.client_id},
          {"username", user->email},
          {"sub", std::to_string(grant.user_id)},
          {"aud", grant.client_id},
          {"iss", config_.issuer},
          {"iat", active->token.created_at},
          {"exp", active->token.expires_at},
          {"auth_time", grant.auth_time},
          {"acr", grant.acr}};
      if (kind == TokenKind::kAccess) body["token_type"] = "Bearer";
      return api_ok(body);
    }
    // RFC 7662 §2.2: nothing more about a token that is not active, whatever the reason.
    return api_ok({{"active", false}});
  });
}

ApiOutcome Provider::code_grant(const Client& client, const Params& form) {
  const auto code = get_param(form, "code");
  if (!code || code->empty()) return api_error(Fault::kInvalidRequest, "code is required");
  const int64_t now = clock_.now();
  auto redeemed = store_.redeem_code(hash_token(*code), now);
  if (!redeemed) {
    switch (redeemed.error().code) {
      case ErrorCode::kReplayed:
        return api_error(Fault::kInvalidGrant,
                         "the code was already used; the tokens it issued are revoked");
      case ErrorCode::kNotFound:
      case ErrorCode::kExpired:
        return api_error(Fault::kInvalidGrant, "the code is invalid or expired");
      default:
        return api_unavailable();
    }
  }
  const auto& [auth_code, grant] = *redeemed;
  if (grant.client_id != client.client_id) {
    (void)store_.revoke_grant(grant.id);
    return api_error(Fault::kInvalidGrant, "the code was issued to another client");
  }
  if (param(form, "redirect_uri") != auth_code.redirect_uri)
    return api_error(Fault::kInvalidGrant, "redirect_uri does not match the authorization request");
  const auto verifier = get_param(form, "code_verifier");
  if (!auth_code.code_challenge.empty()) {
    if (!verifier || !is_valid_code_verifier(*verifier))
      return api_error(Fault::kInvalidGrant, "a valid code_verifier is required");
    if (!pkce_s256_matches(*verifier, auth_code.code_challenge))
      return api_error(Fault::kInvalidGrant, "code_verifier does not match the code_challenge");
  } else if (verifier) {
    return api_error(Fault::kInvalidGrant, "code_verifier sent but no code_challenge was");
  }
  auto minted = mint_tokens(client, grant, true, grant.scope);
  if (!minted) return api_unavailable(minted.error().message);
  if (auto s = store_.add_tokens(minted->tokens); !s) {
    // kConflict: another request replayed the code after this one redeemed it, and revoked
    // the grant (GrantStore::add_tokens). The store's other errors may name the database.
    if (s.error().code == ErrorCode::kConflict)
      return api_error(Fault::kInvalidGrant,
                       "the code was already used; the tokens it issued are revoked");
    return api_unavailable();
  }
  obs::tokens_issued("authorization_code", grant.client_id, grant.user_id);
  return api_ok(minted->body);
}

ApiOutcome Provider::refresh_grant(const Client& client, const Params& form) {
  const auto refresh = get_param(form, "refresh_token");
  if (!refresh || refresh->empty())
    return api_error(Fault::kInvalidRequest, "refresh_token is required");
  const int64_t now = clock_.now();
  const std::string old_hash = hash_token(*refresh);
  auto active = store_.active_token(old_hash, TokenKind::kRefresh, now);
  if (!active && (active.error().code == ErrorCode::kUnavailable ||
                  active.error().code == ErrorCode::kInternal))
    return api_unavailable();
  if (active && active->grant.client_id != client.client_id)
    return api_error(Fault::kInvalidGrant, "the refresh token was issued to another client");
  // The client's policy may have changed since the token was issued: it decides now.
  if (active && !refresh_allowed(client, active->grant))
    return api_error(Fault::kInvalidGrant, "this client may not use refresh tokens");
  // RFC 6749 §6: a narrower scope applies to what this response issues (the access token, the
  // id_token's claims); the refresh token keeps the grant's whole scope.
  std::string scope = active ? active->grant.scope : "";
  if (auto requested = get_param(form, "scope"); requested && active) {
    const auto granted = split_spaces(active->grant.scope);
    std::vector<std::string> narrowed;
    for (const auto& s : split_spaces(*requested)) {
      if (!contains(granted, s))
        return api_error(Fault::kInvalidScope, "scope " + s + " was not granted");
      if (!contains(narrowed, s)) narrowed.push_back(s);
    }
    if (narrowed.empty()) return api_error(Fault::kInvalidScope, "scope is empty");
    scope = join_spaces(narrowed);
  }
  auto next = random_token(random_, 32);
  if (!next) return api_error(Fault::kServerError, "randomness failed");
  Token replacement{hash_token(*next),
                    active ? active->grant.id : "",
                    TokenKind::kRefresh,
                    false,
                    false,
                    now,
                    active ? refresh_expiry(client, active->grant, now) : now,
                    ""};
  if (!active) {
    // A used (rotated-away) token presented again means it was stolen or replayed: the store
    // revokes the whole grant when asked to rotate it. Nothing is issued.
    if (active.error().code == ErrorCode::kReplayed)
      (void)store_.rotate_refresh_token(old_hash, replacement, {}, now);
    return api_error(Fault::kInvalidGrant, "the refresh token is invalid, expired or revoked");
  }
  // The answer is made first so that the rotation and the access token it issues are one
  // write.
  auto minted = mint_tokens(client, active->grant, false, scope);
  if (!minted) return api_unavailable(minted.error().message);
  if (auto s = store_.rotate_refresh_token(old_hash, replacement, minted->tokens, now); !s) {
    if (s.error().code == ErrorCode::kUnavailable || s.error().code == ErrorCode::kInternal)
      return api_unavailable();
    return api_error(Fault::kInvalidGrant, "the refresh token is invalid, expired or revoked");
  }
  minted->body["refresh_token"] = *next;
  obs::tokens_issued("refresh_token", client.client_id, active->grant.user_id);
  return api_ok(minted->body);
}

bool Provider::refresh_allowed(const Client& client, const Grant& grant) {
  switch (client.grants.refresh_tokens) {
    case RefreshTokens::kNever:
      return false;
    case RefreshTokens::kOfflineAccess:
      return contains(split_spaces(grant.scope), "offline_access");
    case RefreshTokens::kAlways:
      return true;
  }
  return false;
}

int64_t Provider::refresh_expiry(const Client& client, const Grant& grant, int64_t now) const {
  const GrantPolicy& policy = client.grants;
  const int64_t idle = policy.refresh_idle_ttl ? policy.refresh_idle_ttl : config_.refresh_token_ttl;
  if (policy.refresh_absolute_ttl == 0) return now + idle;
  return std::min(now + idle, grant.created_at + policy.refresh_absolute_ttl);
}

Result<Provider::Minted> Provider::mint_tokens(const Client& client, const Grant& grant, bool first,
                                               const std::string& scope) {
  const int64_t now = clock_.now();
  auto access = random_token(random_, 32);
  if (!access) return access.error();
  const std::vector<std::string> scopes = split_spaces(scope);
  Minted minted;
  minted.tokens.push_back(Token{hash_token(*access), grant.id, TokenKind::kAccess, false, false,
                                now, now + config_.access_token_ttl,
                                scope == grant.scope ? "" : scope});
  nlohmann::json claims = {{"iss", config_.issuer},
                           {"sub", std::to_string(grant.user_id)},
                           {"aud", grant.client_id},
                           {"exp", now + config_.id_token_ttl},
                           {"iat", now},
                           {"auth_time", grant.auth_time},
                           {"sid", grant.sid},
                           {"acr", grant.acr},
                           {"amr", split_spaces(grant.amr)}};
  if (first && !grant.nonce.empty()) claims["nonce"] = grant.nonce;
  const auto names = user_claim_names(scopes, requested_claims_of(grant.requested_claims, "id_token"));
  if (!names.empty()) {
    auto user = store_.user_by_id(grant.user_id);
    if (!user) return user.error();
    add_user_claims(*user, names, claims);
  }
  auto id_token = keys_.sign(claims);
  if (!id_token) return id_token.error();
  nlohmann::json& body = minted.body;
  body = {{"access_token", *access},
          {"token_type", "Bearer"},
          {"expires_in", config_.access_token_ttl},
          {"scope", scope}};
  // An id_token only while openid is in the scope (a refresh may narrow it away).
  if (contains(scopes, "openid")) body["id_token"] = *id_token;
  if (first && refresh_allowed(client, grant)) {
    auto refresh = random_token(random_, 32);
    if (!refresh) return refresh.error();
    minted.tokens.push_back(Token{hash_token(*refresh), grant.id, TokenKind::kRefresh, false, false,
                                  now, refresh_expiry(client, grant, now), ""});
    body["refresh_token"] = *refresh;
  }
  return minted;
}

std::vector<std::string> Provider::user_claim_names(const std::vector<std::string>& scopes,
                                                    const std::vector<std::string>& requested) {
  std::vector<std::string> names;
  const auto add = [&](const char* name) {
    if (!contains(names, name)) names.emplace_back(name);
  };
  if (contains(scopes, "email")) {
    add("email");
    add("email_verified");
  }
  if (contains(scopes, "profile")) {
    add("preferred_username");
    add("name");
  }
  for (const char* name : {"email", "email_verified", "preferred_username", "name"})
    if (contains(requested, name)) add(name);
  return names;
}

void Provider::add_user_claims(const User& user, const std::vector<std::string>& names,
                               nlohmann::json& claims) {
  if (contains(names, "email")) claims["email"] = user.email;
  if (contains(names, "email_verified")) claims["email_verified"] = user.email_verified;
  // The email is the only name a user signs in with here (OIDC Core §5.1 allows any
  // shorthand the user is known by); `name` only when the user has one.
  if (contains(names, "preferred_username")) claims["preferred_username"] = user.email;
  if (contains(names, "name") && !user.display_name.empty()) claims["name"] = user.display_name;
}

ApiOutcome Provider::userinfo(const std::optional<std::string>& authorization,
                              const Params& form, const std::optional<std::string>& origin) {
  std::string client_id;
  ApiOutcome out = userinfo_of(authorization, form, client_id);
  if (client_id.empty()) {
    out.cors_origin = cors_.for_any_client(origin).value_or("");
  } else if (origin) {
    auto client = store_.client_by_id(client_id);
    if (client) out.cors_origin = CorsPolicy::for_client(*client, origin).value_or("");
  }
  return out;
}

ApiOutcome Provider::userinfo_of(const std::optional<std::string>& authorization,
                                 const Params& form, std::string& client_id) {
  auto invalid = [](const char* description) {
    ApiOutcome out = api_error(Fault::kInvalidToken, description);
    out.www_authenticate =
        std::string("Bearer error=\"invalid_token\", error_description=\"") + description + "\"";
    return out;
  };
  if (auto repeated = repeated_param(form))
    return api_error(Fault::kInvalidRequest, *repeated + " is repeated");
  auto token = bearer_token(authorization);
  if (auto in_body = get_param(form, "access_token")) {
    // RFC 6750 §2: one method per request.
    if (token)
      return api_error(Fault::kInvalidRequest,
                       "send the access token in the Authorization header or the body, not both");
    token = *in_body;
  }
  if (!token) {
    ApiOutcome out = api_error(Fault::kBearerTokenMissing, "a Bearer access token is required");
    out.www_authenticate = "Bearer realm=\"keystep\"";
    return out;
  }
  auto active = store_.active_token(hash_token(*token), TokenKind::kAccess, clock_.now());
  if (!active) {
    if (active.error().code == ErrorCode::kUnavailable ||
        active.error().code == ErrorCode::kInternal)
      return api_unavailable();
    return invalid("the access token is invalid, expired or revoked");
  }
  client_id = active->grant.client_id;
  auto user = store_.user_by_id(active->grant.user_id);
  if (!user) return invalid("the access token's user no longer exists");
  nlohmann::json body = {{"sub", std::to_string(user->id)}};
  const std::string& scope = active->token.scope.empty() ? active->grant.scope : active->token.scope;
  const auto scopes = split_spaces(scope);
  if (!contains(scopes, "openid")) {
    ApiOutcome out = api_error(Fault::kInsufficientScope, "the access token lacks openid");
    out.www_authenticate = "Bearer error=\"insufficient_scope\", scope=\"openid\"";
    return out;
  }
  const auto requested = requested_claims_of(active->grant.requested_claims, "userinfo");
  add_user_claims(*user, user_claim_names(scopes, requested), body);
  // The sign-in's claims, when the claims parameter asked for them here too (a relying
  // party that checks acr from /userinfo, e.g. mod_auth_openidc's `Require claim acr:`).
  if (contains(requested, "acr")) body["acr"] = active->grant.acr;
  if (contains(requested, "amr")) body["amr"] = split_spaces(active->grant.amr);
  if (contains(requested, "auth_time")) body["auth_time"] = active->grant.auth_time;
  return api_ok(body);
}

WebOutcome Provider::end_session(const Params& params, const BrowserContext& browser) {
  if (auto repeated = repeated_param(params))
    return error_page(Fault::kInvalidRequest, *repeated + " is repeated.");
  std::optional<std::string> client_id = get_param(params, "client_id");
  std::optional<std::string> hinted_sid;
  if (auto hint = get_param(params, "id_token_hint")) {
    // The hint may be expired (the user comes back later to log out); only the signature and
    // issuer matter.
    auto claims = keys_.verify(*hint);
    if (!claims || !claims->is_object() || claims->value("iss", "") != config_.issuer)
      return error_page(Fault::kInvalidRequest, "The id_token_hint is not valid.");
    const auto aud = claims->value("aud", "");
    if (client_id && *client_id != aud)
      return error_page(Fault::kInvalidRequest, "client_id does not match the id_token_hint.");
    client_id = aud;
    if (claims->contains("sid") && (*claims)["sid"].is_string()) hinted_sid = (*claims)["sid"];
  }
  std::optional<std::string> redirect;
  if (auto uri = get_param(params, "post_logout_redirect_uri")) {
    if (!client_id)
      return error_page(Fault::kInvalidRequest,
                        "post_logout_redirect_uri needs an id_token_hint or client_id.");
    auto client = store_.client_by_id(*client_id);
    if (!client || !redirect_uri_registered(client->post_logout_redirect_uris, *uri))
      return error_page(Fault::kInvalidRequest,
                        "The post_logout_redirect_uri is not registered for this application.");
    Params extra;
    if (auto state = get_param(params, "state")) extra.emplace_back("state", *state);
    redirect = append_query(*uri, extra);
  }
  auto session = current_session(store_, clock_, browser);
  if (!session) return unavailable_page();
  if (*session) {
    // OpenID RP-Initiated Logout §2: a request that does not prove it comes from an RP of this
    // very session (any page may link to /logout) asks the user before signing them out.
    const std::string csrf = session_csrf_token(*browser.session_cookie);
    const bool hinted_this = hinted_sid && *hinted_sid == (*session)->sid;
    const bool confirmed = param(params, "confirm") == "yes" &&
                           constant_time_equal(param(params, "csrf_token"), csrf);
    if (!hinted_this && !confirmed) {
      WebOutcome ask;
      ask.kind = WebOutcome::Kind::kLogoutConfirmPage;
      ask.logout.csrf_token = csrf;
      if (client_id) ask.logout.carried.emplace_back("client_id", *client_id);
      for (const char* name : {"post_logout_redirect_uri", "state"})
        if (auto value = get_param(params, name)) ask.logout.carried.emplace_back(name, *value);
      return ask;
    }
    (void)store_.end_session((*session)->sid, clock_.now());
  } else if (hinted_sid) {
    // No cookie (e.g. the RP logs out from another browser tab context): end the hinted session.
    (void)store_.end_session(*hinted_sid, clock_.now());
  }
  if (on_session_ended_ && ((*session) || hinted_sid)) on_session_ended_();
  WebOutcome out;
  out.cookies.push_back(login_.cookie(kSessionCookie, "", "/", 0));
  if (redirect) {
    out.kind = WebOutcome::Kind::kRedirect;
    out.location = *redirect;
  } else {
    out.kind = WebOutcome::Kind::kLoggedOutPage;
  }
  return out;
}

}  // namespace keystep
