#pragma once
// Internal to storage/postgres/: the column lists and row readers of PostgresStore's tables,
// and the inserts that several of its .cc files run inside their own transactions. Each
// SELECT using a reader starts with the matching k*Columns, which list the columns in the
// struct's field order.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "idp/store/store.h"
#include "storage/postgres/pg.h"

namespace keystep::postgres {

// A SELECT's column list (the k*Columns constants) followed by the rest of the statement.
inline std::string sql(std::string_view columns, std::string_view rest) {
  return std::string(columns).append(rest);
}

// Every row of `rows` read with `read`.
template <class T, class Read>
std::vector<T> read_all(const Rows& rows, Read read) {
  std::vector<T> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) out.push_back(read(Row{rows, i}));
  return out;
}

// A page from `rows`, whose column `total_col` is the whole list's count (COUNT(*) OVER ());
// a page past the end has no row to carry it, so then `count_sql` ($1 = id) counts.
template <class T, class Read>
Result<Page<T>> page_of(Connection& c, const Rows& rows, Read read, int total_col,
                        const std::string& count_sql, int64_t id) {
  Page<T> page{read_all<T>(rows, read), 0};
  if (!rows.empty()) {
    page.total = rows.int64(0, total_col);
    return page;
  }
  auto count = c.query(count_sql, {id});
  if (!count) return count.error();
  page.total = count->int64(0, 0);
  return page;
}

inline constexpr std::string_view kAccountColumns =
    "SELECT id, name, issuer_label, created_at, enforce_two_factor, mfa_settings_json "
    "FROM accounts ";

inline Account read_account(const Row& r) {
  return Account{r.int64(0), r.text(1), r.text(2), r.int64(3), r.boolean(4), r.text(5)};
}

inline constexpr std::string_view kUserColumns =
    "SELECT id, account_id, email, password_hash, role, created_at, two_factor_enabled, "
    "display_name, email_verified FROM users ";

inline User read_user(const Row& r) {
  return User{r.int64(0), r.int64(1),   r.text(2), r.text(3),   r.text(4),
              r.int64(5), r.boolean(6), r.text(7), r.boolean(8)};
}

// client_redirect_uris.kind
inline constexpr int64_t kRedirectUri = 1;
inline constexpr int64_t kPostLogoutRedirectUri = 2;

// A client with its three lists, each a JSON array in its order (redirect URIs: kind 1,
// kRedirectUri; post-logout redirect URIs: kind 2, kPostLogoutRedirectUri; allowed origins):
// one statement, so one snapshot and one round trip. Every sign-in reads its client in several
// requests and every token request reads it once; read as a transaction of three SELECTs,
// that took six round trips each time.
inline constexpr std::string_view kClientColumns =
    "SELECT client_id, is_public, secret_hash, created_at, refresh_tokens, refresh_idle_ttl, "
    "refresh_absolute_ttl, first_party, require_two_factor, backchannel_logout_uri, "
    "backchannel_logout_session_required, display_name, logo_uri, home_uri, "
    "COALESCE((SELECT json_agg(u.uri ORDER BY u.position) FROM client_redirect_uris u "
    "WHERE u.client_id = clients.client_id AND u.kind = 1)::text, '[]'), "
    "COALESCE((SELECT json_agg(u.uri ORDER BY u.position) FROM client_redirect_uris u "
    "WHERE u.client_id = clients.client_id AND u.kind = 2)::text, '[]'), "
    "COALESCE((SELECT json_agg(o.origin ORDER BY o.position) FROM client_allowed_origins o "
    "WHERE o.client_id = clients.client_id)::text, '[]') FROM clients ";

// A list column of kClientColumns into `out`; kInternal when the database holds anything but
// a JSON array of strings there.
inline Status read_client_list(const Row& r, int col, std::vector<std::string>& out) {
  const nlohmann::json list =
      nlohmann::json::parse(r.text(col), nullptr, /*allow_exceptions=*/false);
  if (!list.is_array())
    return make_error(ErrorCode::kInternal, "a client's list in the database is not an array");
  for (const nlohmann::json& item : list) {
    if (!item.is_string())
      return make_error(ErrorCode::kInternal, "a client's list in the database holds a non-string");
    out.push_back(item.get<std::string>());
  }
  return {};
}

inline Result<Client> read_client(const Row& r) {
  Client client;
  client.client_id = r.text(0);
  client.is_public = r.boolean(1);
  client.secret_hash = r.text(2);
  client.created_at = r.int64(3);
  client.grants.refresh_tokens = static_cast<RefreshTokens>(r.int64(4));
  client.grants.refresh_idle_ttl = r.int64(5);
  client.grants.refresh_absolute_ttl = r.int64(6);
  client.grants.first_party = r.boolean(7);
  client.require_two_factor = r.boolean(8);
  client.backchannel_logout_uri = r.text(9);
  client.backchannel_logout_session_required = r.boolean(10);
  client.display_name = r.text(11);
  client.logo_uri = r.text(12);
  client.home_uri = r.text(13);
  if (Status s = read_client_list(r, 14, client.redirect_uris); !s) return s.error();
  if (Status s = read_client_list(r, 15, client.post_logout_redirect_uris); !s) return s.error();
  if (Status s = read_client_list(r, 16, client.allowed_origins); !s) return s.error();
  return client;
}

inline constexpr std::string_view kSessionColumns =
    "SELECT id_hash, sid, user_id, auth_time, acr, amr, created_at, expires_at, password_time, "
    "mfa_time FROM sessions ";

inline Session read_session(const Row& r) {
  return Session{r.text(0),  r.text(1),  r.int64(2), r.int64(3), r.text(4),
                 r.text(5),  r.int64(6), r.int64(7), r.int64(8), r.int64(9)};
}

inline constexpr std::string_view kCredentialColumns =
    "SELECT id, user_id, provider_id, secret, params, state, counter, version, confirmed, "
    "created_at, last_used_at, label, lookup_key FROM mfa_credentials ";

// A stored params/state that does not parse means the database was changed behind our back.
inline Result<MfaCredential> read_credential(const Row& r) {
  MfaCredential c;
  c.id = r.int64(0);
  c.user_id = r.int64(1);
  c.provider_id = r.text(2);
  c.secret = r.bytea(3);
  c.params = nlohmann::json::parse(r.text(4), nullptr, /*allow_exceptions=*/false);
  c.state = nlohmann::json::parse(r.text(5), nullptr, /*allow_exceptions=*/false);
  if (c.params.is_discarded() || c.state.is_discarded()) {
    return make_error(ErrorCode::kInternal,
                      "MFA credential " + std::to_string(c.id) + " holds malformed JSON");
  }
  c.counter = r.int64(6);
  c.version = r.int64(7);
  c.confirmed = r.boolean(8);
  c.created_at = r.int64(9);
  c.last_used_at = r.int64(10);
  c.label = r.text(11);
  c.lookup_key = r.text(12);
  return c;
}

// Grant columns starting at col: id, client_id, user_id, sid, scope, nonce, auth_time, acr,
// amr, revoked, created_at, requested_claims.
inline constexpr const char* kGrantColumns =
    "g.id, g.client_id, g.user_id, g.sid, g.scope, g.nonce, g.auth_time, g.acr, g.amr, "
    "g.revoked, g.created_at, g.requested_claims";

inline Grant read_grant(const Row& r, int col) {
  return Grant{r.text(col),      r.text(col + 1),    r.int64(col + 2),  r.text(col + 3),
               r.text(col + 4),  r.text(col + 5),    r.int64(col + 6),  r.text(col + 7),
               r.text(col + 8),  r.boolean(col + 9), r.int64(col + 10), r.text(col + 11)};
}

// A token with its grant by hash ($1) and kind ($2): token columns from 0, grant columns
// from 7, the token's own scope last (19).
inline const std::string kTokenWithGrant =
    std::string("SELECT t.token_hash, t.grant_id, t.kind, t.used, t.revoked, t.created_at, "
                "t.expires_at, ") +
    kGrantColumns +
    ", t.scope FROM tokens t JOIN grants g ON g.id = t.grant_id "
    "WHERE t.token_hash = $1 AND t.kind = $2";

inline Token read_token(const Row& r) {
  return Token{r.text(0),    r.text(1),  static_cast<TokenKind>(r.int64(2)),
               r.boolean(3), r.boolean(4), r.int64(5), r.int64(6), r.text(19)};
}

inline constexpr std::string_view kApiTokenColumns =
    "SELECT id, account_id, user_id, name, token_hash, created_at, revoked_at, expires_at FROM "
    "api_tokens ";

inline ApiToken read_api_token(const Row& r) {
  return ApiToken{r.int64(0), r.int64(1), r.int64(2), r.text(3),
                  r.text(4),  r.int64(5), r.int64(6), r.int64(7)};
}

// A user's columns, then (9) the member's confirmed providers, each once, joined with
// kProviderSeparator. The caller adds FROM users u and the rest.
inline constexpr std::string_view kMemberSelect =
    "SELECT u.id, u.account_id, u.email, u.password_hash, u.role, u.created_at, "
    "u.two_factor_enabled, u.display_name, u.email_verified, (SELECT string_agg(DISTINCT "
    "c.provider_id, chr(31) ORDER BY c.provider_id) FROM mfa_credentials c WHERE "
    "c.user_id = u.id AND c.confirmed)";
inline constexpr char kProviderSeparator = '\x1f';

inline Member read_member(const Row& r) {
  Member member{read_user(r), {}};
  const std::string joined = r.text(9);
  for (size_t start = 0; start < joined.size();) {
    size_t end = joined.find(kProviderSeparator, start);
    if (end == std::string::npos) end = joined.size();
    member.confirmed_providers.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return member;
}

// Inserts a user (see UserStore::create_user); on success returns it with its id.
Result<User> insert_user(Connection& c, const User& user);
// Queues one message in the caller's transaction: true, or false when its dedupe_key is
// already queued (nothing changes); kInvalidArgument for an empty dedupe_key, to or mime.
Result<bool> insert_mail(Connection& c, const OutgoingMail& mail);
// Ends every session of `user_id` and revokes all their grants and the grants' tokens,
// queueing a back-channel logout for each client that asks for one, in the caller's
// transaction (the first part of reset_two_factor and of complete_password_reset).
struct SignedOut {
  int64_t grants_revoked = 0;
  int64_t sessions_ended = 0;
};
Result<SignedOut> sign_out_user(Connection& c, int64_t user_id, int64_t now);
Status insert_enrollment_link(Connection& c, const EnrollmentLink& link);

}  // namespace keystep::postgres
