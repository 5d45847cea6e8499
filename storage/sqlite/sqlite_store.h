#pragma once
// SqliteStore: the store interfaces of idp/store/ (Store and MailStore) on one SQLite
// database file. Their whole contract is written in those headers and checked by the
// conformance suite (tests/unit/idp/store/); this header says only what is SQLite's.
//
// Thread-safety: the store owns one writer connection and serialises every call that writes
// on it with a mutex, so a ":memory:" database is shared by all threads. On a file database
// the calls a sign-in reads with (accounts, users, clients, keys, flows, sessions, grants,
// tokens, credentials, attempts, consent) run on read-only connections of the store instead,
// one per concurrent reader, which WAL lets read the last commit beside the writer: a read
// never waits on a write, nor a write on a read. A file database's WAL is checkpointed by
// a thread of the store on a connection of its own (storage/sqlite/checkpointer.h), never
// inside a call's commit. Several stores (or processes) may open
// the same file: read-modify-write methods run inside BEGIN IMMEDIATE, and a lock held by
// another connection longer than the busy timeout (5 s) yields kUnavailable. kInternal
// carries SQLite's message.
//
// Layout: the OnboardingStore methods are in sqlite_onboarding_store.cc, the MailStore ones
// in sqlite_mail_store.cc, the ConsentStore ones in sqlite_consent_store.cc. Methods that
// queue mail together with another change call insert_mail_locked inside their transaction.
// mail_outbox and the audit log have no foreign keys, so their rows outlive the users and
// accounts they name.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "idp/store/mail_store.h"
#include "idp/store/store.h"
#include "storage/sqlite/checkpointer.h"
#include "storage/sqlite/migrations.h"

struct sqlite3;

namespace keystep::sqlite {

class Statement;

class SqliteStore final : public Store, public MailStore {
 public:
  // Opens or creates the database at path (":memory:" for a private in-memory database; a
  // new file is created with mode 0600, and SQLite gives its -wal and -shm the same), sets
  // WAL (file databases), foreign_keys=ON, synchronous=NORMAL and the busy timeout, and
  // applies every migration newer than the recorded schema version, each in its own
  // transaction, recording it in schema_migrations.
  // On success returns the ready store. On failure returns kInternal when a database's
  // schema version is newer than this binary knows (refusing to touch it) or a migration
  // fails (that migration is rolled back, earlier ones stay), kUnavailable when the
  // database stays locked, and kInternal for an unopenable file.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);
  // As above with an explicit migration list, in strictly increasing version order (tests
  // use it to play a newer binary). Migration SQL must not contain transaction statements.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                   const std::vector<Migration>& migrations);

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override;

  // The highest applied migration version (0 for an empty database).
  Result<int> schema_version();
  // How many transactions that wrote to the database this store has committed since it was
  // opened (migrations included; a statement outside BEGIN ... COMMIT is its own
  // transaction). Reads commit none. For tests and benchmarks that count what an operation
  // writes. Thread-safe.
  int64_t write_transactions() const { return write_transactions_.load(); }
  // How many reads (each its own read transaction) the store has made: the calls that read,
  // less those a request's ReadMemo (idp/store/read_memo.h) answered. For tests and
  // benchmarks. Thread-safe.
  int64_t read_transactions() const { return read_transactions_.load(); }
  // How many WAL checkpoints the store's checkpointer has run (0 for ":memory:"). For tests.
  int64_t wal_checkpoints() const { return checkpointer_ ? checkpointer_->checkpoints() : 0; }

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

  // ConsentStore (implemented in sqlite_consent_store.cc)
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

  // OnboardingStore (implemented in sqlite_onboarding_store.cc)
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

  // PasswordResetStore (sqlite_password_reset_store.cc)
  Status create_password_resets(const std::vector<PasswordReset>& resets,
                                const std::vector<OutgoingMail>& mail) override;
  Result<PasswordReset> password_reset(const std::string& token_hash) override;
  Status verify_password_reset(const std::string& token_hash, const std::string& verified_by,
                               int64_t now) override;
  Result<int64_t> complete_password_reset(const std::string& token_hash,
                                          const std::string& password_hash, int64_t now,
                                          const std::vector<OutgoingMail>& mail) override;

  // MailStore
  Status enqueue_mail(const OutgoingMail& mail) override;
  Result<std::vector<OutgoingMail>> due_mail(int64_t now, int limit) override;
  Result<std::vector<OutgoingMail>> claim_mail(int64_t now, int limit, int64_t lease) override;
  Status mark_sent(int64_t id, int64_t now) override;
  Status mark_failed(int64_t id, int64_t next_attempt_at, const std::string& error) override;
  Result<std::vector<OutgoingMail>> mail_for(const std::string& to) override;

  // LogoutStore (sqlite_logout_store.cc)
  Result<std::vector<LogoutNotice>> due_logout_notices(int64_t now, int limit) override;
  Result<std::vector<LogoutNotice>> claim_logout_notices(int64_t now, int limit,
                                                         int64_t lease) override;
  Status mark_logout_delivered(int64_t id, int64_t now) override;
  Status mark_logout_failed(int64_t id, int64_t next_attempt_at,
                            const std::string& error) override;
  Result<std::vector<LogoutNotice>> logout_notices_of(const std::string& client_id) override;
  Result<OutboxSummary> outbox_summary() override;

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}

  // The connection of one call that only reads, given back when it ends:
  //  - the writer connection when free (its page cache is never stale: a read-only
  //    connection re-reads every page it needs after any commit) with mu_ held;
  //  - else an idle read-only connection of the store (opened when none is idle);
  //  - the writer connection with mu_ held for ":memory:" (a private database per
  //    connection) or when a read connection cannot be opened.
  class Reader {
   public:
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    ~Reader();
    sqlite3* db() const { return db_; }

   private:
    friend class SqliteStore;
    Reader(SqliteStore* store, sqlite3* db) : store_(store), db_(db) {}
    explicit Reader(SqliteStore* store);  // the writer connection under mu_
    Reader(SqliteStore* store, std::unique_lock<std::mutex> writer_lock)
        : store_(store), db_(store->db_), writer_lock_(std::move(writer_lock)) {}
    SqliteStore* store_;
    sqlite3* db_;
    std::unique_lock<std::mutex> writer_lock_;
  };
  Reader read_connection();
  // An idle read-only connection, or a new one; nullptr when none can be opened.
  sqlite3* take_reader();
  void give_back_reader(sqlite3* db);
  // The client's redirect URIs and allowed origins into `client`, read on `db`.
  static Status read_client_lists(sqlite3* db, Client& client);

  // These expect mu_ held.
  Status configure();
  Status migrate(const std::vector<Migration>& migrations);
  Result<int> schema_version_locked();
  Result<int64_t> revoke_grant_locked(const std::string& grant_id);
  // Inserts a token as given.
  Status insert_token_locked(const Token& token);
  // Compare-and-set of a flow (see update_flow): stores *progress_json, or deletes the flow
  // when progress_json is null.
  Status cas_flow_locked(const std::string& id, int64_t expected_version,
                         const std::string* progress_json);
  // The single-statement writes of create_session, update_session_auth,
  // create_grant_with_code, reset_attempts and append_audit, for callers that group them.
  Status insert_session_locked(const Session& session);
  Status update_session_auth_locked(const Session& session);
  Status insert_grant_with_code_locked(const Grant& grant, const AuthCode& code);
  Status reset_attempts_locked(const std::string& key);
  Status append_audit_locked(const AuditEvent& event);
  // The single number `count_sql` (with ?1 bound to `id`) selects.
  Result<int64_t> count_locked(std::string_view count_sql, int64_t id);
  // Compare-and-set of one credential (see update_credential); `confirmed` is what is stored.
  Status cas_credential_locked(const MfaCredential& updated, int64_t expected_version,
                               bool confirmed);
  // Inserts a credential with version 0; on success returns its id.
  Result<int64_t> insert_credential_locked(const MfaCredential& credential);
  // Replaces the user's unconfirmed credentials of pending.provider_id with `pending` (see
  // put_pending_credential); on success returns its id.
  Result<int64_t> put_pending_locked(const MfaCredential& pending);
  // SessionStore::end_session for the sessions whose sid is in `sids` (an SQL list or
  // subquery using parameters from ?2, which `bind` binds; ?1 is now). Returns how many
  // sessions were deleted.
  Result<int64_t> end_sessions_locked(std::string_view sids, int64_t now,
                                      const std::function<void(Statement&)>& bind);
  // Ends every session of `user_id` and revokes all their grants and the grants' tokens,
  // queueing a back-channel logout for each client that asks for one (the first part of
  // reset_two_factor and of complete_password_reset).
  struct SignedOut {
    int64_t grants_revoked = 0;
    int64_t sessions_ended = 0;
  };
  Result<SignedOut> sign_out_user_locked(int64_t user_id, int64_t now);
  // Inserts a user (see create_user); on success returns it with its id.
  Result<User> insert_user_locked(const User& user);
  Status insert_enrollment_link_locked(const EnrollmentLink& link);
  // Queues one message inside the caller's transaction (one statement, so without a
  // transaction it is atomic on its own). On success returns true, or false when its
  // dedupe_key is already queued (nothing changes); kInvalidArgument for an empty
  // dedupe_key, to or mime.
  Result<bool> insert_mail_locked(const OutgoingMail& mail);

  std::mutex mu_;
  sqlite3* db_;  // owned; guarded by mu_
  std::atomic<int64_t> write_transactions_{0};  // counted by SQLite's commit hook
  std::atomic<int64_t> read_transactions_{0};   // counted by read_connection()
  std::unique_ptr<Checkpointer> checkpointer_;  // file databases only
  std::string path_;                            // the database file; empty for ":memory:"
  std::mutex readers_mu_;
  std::vector<sqlite3*> idle_readers_;  // read-only connections; guarded by readers_mu_
};

}  // namespace keystep::sqlite
