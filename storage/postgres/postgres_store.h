#pragma once
// PostgresStore: the store interfaces of idp/store/ (Store and MailStore) on a PostgreSQL 15
// database shared by any number of Keystep nodes. Their whole contract is written in those
// headers and checked by the conformance suite (tests/unit/idp/store/, run on both stores);
// this header says only what is PostgreSQL's.
//
// Thread-safety: a bounded pool of connections (storage/postgres/pg.h); each call leases one,
// so calls run in parallel up to the pool's size and then wait. Across nodes, every
// read-modify-write runs in one READ COMMITTED transaction that locks the rows it read
// (SELECT ... FOR UPDATE, or the user's row for changes to the user's credentials) or is one
// conditional statement (compare-and-set on a version, ON CONFLICT upserts), so two nodes can
// never both act on the same old state. A lock or statement held past its timeout (5 s /
// 10 s) and a lost server yield kUnavailable; kInternal carries PostgreSQL's message.
//
// Schema: storage/postgres/migrations/NNN_name.sql, applied by open() under an advisory lock
// (two nodes starting together migrate once), recorded in schema_migrations.
//
// Layout: the MailStore and LogoutStore methods are in postgres_outbox_store.cc, the
// OnboardingStore and ConsentStore ones in postgres_onboarding_store.cc, the
// PasswordResetStore ones in postgres_password_reset_store.cc.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "idp/store/mail_store.h"
#include "idp/store/store.h"
#include "storage/postgres/migrations.h"
#include "storage/postgres/pg.h"

namespace keystep::postgres {

class PostgresStore final : public Store, public MailStore {
 public:
  // Connects to `url` (postgresql://user:password@host:port/db?...) with a pool of at most
  // `pool_size` connections, and applies every migration newer than the recorded schema
  // version, each in its own transaction under a transaction-scoped advisory lock.
  // On failure: kUnavailable when the server cannot be reached, kInternal when the schema
  // is newer than this binary knows (refusing to touch it) or a migration fails (rolled
  // back, earlier ones stay).
  static Result<std::unique_ptr<PostgresStore>> open(const std::string& url, int pool_size);
  // As above with an explicit migration list, in strictly increasing version order.
  static Result<std::unique_ptr<PostgresStore>> open(const std::string& url, int pool_size,
                                                     const std::vector<Migration>& migrations);

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  // The highest applied migration version (0 for an empty database).
  Result<int> schema_version();

  // AccountStore
  Result<Account> create_account(const Account& account) override;
  Result<Account> account_by_name(const std::string& name) override;
  Result<Account> account_by_id(int64_t id) override;

  // UserStore
  Result<User> create_user(const User& user) override;
  Result<User> user_by_id(int64_t id) override;
  Result<User> user_by_email(int64_t account_id, const std::string& email) override;
  Result<std::vector<User>> users_by_email(const std::string& email) override;
  Status update_password_hash(int64_t user_id, const std::string& password_hash) override;
  Status update_display_name(int64_t user_id, const std::string& display_name) override;
  Result<std::vector<std::string>> role_permissions(const std::string& role) override;

  // ClientStore
  Status create_client(const Client& client) override;
  Result<Client> client_by_id(const std::string& client_id) override;
  Result<std::vector<Client>> clients() override;
  Status update_client(const Client& client) override;
  Result<std::vector<std::string>> clients_requiring_two_factor(int64_t account_id) override;
  Status set_client_requires_two_factor(int64_t account_id, const std::string& client_id,
                                        bool required) override;

  // KeyStore
  Status add_signing_key(const SigningKey& key) override;
  Result<std::vector<SigningKey>> signing_keys() override;
  Status retire_signing_key(const std::string& kid) override;

  // FlowStore
  Status create_flow(const LoginFlow& flow) override;
  Result<LoginFlow> flow_by_id(const std::string& id, int64_t now) override;
  Status update_flow(const std::string& id, int64_t expected_version,
                     const std::string& progress_json) override;
  Status delete_flow(const std::string& id) override;
  Status commit_flow_step(const FlowStep& step, int64_t now) override;

  // SessionStore
  Status create_session(const Session& session) override;
  Result<Session> session_by_id_hash(const std::string& id_hash, int64_t now) override;
  Result<Session> session_by_sid(const std::string& sid, int64_t now) override;
  Status update_session_auth(const Session& session) override;
  Status end_session(const std::string& sid, int64_t now) override;
  Result<int64_t> end_other_sessions(int64_t user_id, const std::string& keep_sid,
                                     int64_t now) override;

  // GrantStore
  Status create_grant_with_code(const Grant& grant, const AuthCode& code) override;
  Result<Redeemed> redeem_code(const std::string& code_hash, int64_t now) override;
  Result<Grant> grant_by_id(const std::string& id) override;
  Status add_tokens(const std::vector<Token>& tokens) override;
  Result<ActiveToken> active_token(const std::string& token_hash, TokenKind kind,
                                   int64_t now) override;
  Status rotate_refresh_token(const std::string& old_hash, const Token& replacement,
                              const std::vector<Token>& issued, int64_t now) override;
  Status revoke_grant(const std::string& grant_id) override;
  Status revoke_token(const std::string& token_hash, const std::string& client_id) override;

  // ConsentStore (postgres_onboarding_store.cc)
  Result<Consent> consent(int64_t user_id, const std::string& client_id) override;
  Status put_consent(const Consent& consent) override;
  Result<std::vector<Consent>> consents_of_user(int64_t user_id) override;
  Status revoke_consent(int64_t user_id, const std::string& client_id) override;
  Status create_consent_request(const ConsentRequest& request) override;
  Result<ConsentRequest> consent_request(const std::string& id, int64_t now) override;
  Result<ConsentRequest> take_consent_request(const std::string& id, int64_t now) override;

  // MfaStore
  Result<std::vector<MfaCredential>> credentials_of_user(int64_t user_id) override;
  Result<MfaCredential> put_pending_credential(const MfaCredential& pending) override;
  Status update_credential(const MfaCredential& updated, int64_t expected_version) override;
  Status enable_two_factor(const MfaCredential& confirmed, int64_t expected_version,
                           const std::optional<MfaCredential>& recovery_codes,
                           bool user_setting_on, int max_of_provider) override;
  Result<MfaCredential> add_credential(const MfaCredential& confirmed,
                                       int max_of_provider) override;
  Status remove_credential(int64_t user_id, int64_t credential_id, int64_t expected_version,
                           const std::vector<std::string>& factor_providers,
                           LastFactor when_last) override;
  Status replace_credentials(const MfaCredential& replacement) override;
  Status set_two_factor_setting(int64_t user_id, bool on) override;
  Status disable_two_factor(int64_t user_id) override;
  Result<AttemptState> attempts(const std::string& key) override;
  Result<AttemptState> record_failure(const std::string& key, int64_t now) override;
  Result<bool> record_failure_if(const std::string& key, const AttemptState& expected,
                                 int64_t now) override;
  Status reset_attempts(const std::string& key) override;
  Status append_audit(const AuditEvent& event) override;
  Result<std::vector<AuditEvent>> audit_events(int64_t account_id, int64_t before_id,
                                               int limit) override;

  // Store
  Result<int64_t> purge_expired(int64_t now) override;
  Status ping() override;

  // AdminStore
  Result<ApiToken> create_api_token(const ApiToken& token) override;
  Result<ApiToken> api_token_by_hash(const std::string& token_hash) override;
  Result<std::vector<ApiToken>> api_tokens(int64_t account_id) override;
  Result<Page<ApiToken>> api_tokens_page(int64_t account_id, PageRequest page) override;
  Status revoke_api_token(int64_t account_id, int64_t token_id, int64_t now) override;
  Result<std::vector<Member>> members(int64_t account_id) override;
  Result<Page<Member>> members_page(int64_t account_id, PageRequest page) override;
  Result<TwoFactorReset> reset_two_factor(int64_t user_id, int64_t now,
                                          const std::vector<OutgoingMail>& mail) override;
  Result<MemberRemoval> remove_member(int64_t user_id, int64_t now,
                                      const std::vector<OutgoingMail>& mail) override;
  Status update_account_mfa(const AccountMfaChange& change) override;

  // OnboardingStore (postgres_onboarding_store.cc)
  Result<Invitation> create_invitation(const Invitation& invitation,
                                       const std::vector<OutgoingMail>& mail) override;
  Result<std::vector<Invitation>> invitations(int64_t account_id) override;
  Result<Page<Invitation>> invitations_page(int64_t account_id, PageRequest page) override;
  Result<Invitation> invitation_by_token(const std::string& token_hash) override;
  Status revoke_invitation(int64_t account_id, int64_t invitation_id, int64_t now) override;
  Result<User> accept_invitation(const std::string& token_hash, const User& user,
                                 int64_t now) override;
  Result<EnrollmentLink> enrollment_link(const std::string& token_hash) override;
  Result<EnrollmentLink> use_enrollment_link(const std::string& token_hash,
                                             int64_t now) override;

  // PasswordResetStore (postgres_password_reset_store.cc)
  Status create_password_resets(const std::vector<PasswordReset>& resets,
                                const std::vector<OutgoingMail>& mail) override;
  Result<PasswordReset> password_reset(const std::string& token_hash) override;
  Status verify_password_reset(const std::string& token_hash, const std::string& verified_by,
                               int64_t now) override;
  Result<int64_t> complete_password_reset(const std::string& token_hash,
                                          const std::string& password_hash, int64_t now,
                                          const std::vector<OutgoingMail>& mail) override;

  // MailStore (postgres_outbox_store.cc)
  Status enqueue_mail(const OutgoingMail& mail) override;
  Result<std::vector<OutgoingMail>> due_mail(int64_t now, int limit) override;
  Result<std::vector<OutgoingMail>> claim_mail(int64_t now, int limit, int64_t lease) override;
  Status mark_sent(int64_t id, int64_t now) override;
  Status mark_failed(int64_t id, int64_t next_attempt_at, const std::string& error) override;
  Result<std::vector<OutgoingMail>> mail_for(const std::string& to) override;

  // LogoutStore (postgres_outbox_store.cc)
  Result<std::vector<LogoutNotice>> due_logout_notices(int64_t now, int limit) override;
  Result<std::vector<LogoutNotice>> claim_logout_notices(int64_t now, int limit,
                                                         int64_t lease) override;
  Status mark_logout_delivered(int64_t id, int64_t now) override;
  Status mark_logout_failed(int64_t id, int64_t next_attempt_at,
                            const std::string& error) override;
  Result<std::vector<LogoutNotice>> logout_notices_of(const std::string& client_id) override;
  Result<OutboxSummary> outbox_summary() override;

 private:
  PostgresStore(const std::string& url, int pool_size) : pool_(url, pool_size) {}

  Status migrate(const std::vector<Migration>& migrations);

  Pool pool_;
};

}  // namespace keystep::postgres
