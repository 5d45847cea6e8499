#pragma once
// The admin page ACCOUNT SETUP > Authentication ("Authentication: Configuration") for a
// signed-in administrator: the Enforce Two-Factor Authentication toggle with the seed's
// prompts, the two-factor settings (what the enforcement email carries, the allowed providers,
// each provider's settings), the members with their 2FA state and the lost-device reset,
// invitations of new members, and API tokens. http/ turns GET and POST /account/authentication into
// one call here and renders the AuthenticationView.
//
// Every decision goes through AdminApi with the browser session as the Caller, so the page
// and the JSON API share one implementation of the permissions (auth_settings.view to see,
// auth_settings.edit to change) and of the preconditions for enforcement (409 own 2FA first,
// 428 confirmation): the console only maps those answers to screens.
//
// Thread-safety: every method may be called concurrently.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "idp/admin/admin_api.h"
#include "idp/directory/directory.h"
#include "idp/login/session_auth.h"
#include "plugin/registry.h"

namespace keystep {

inline constexpr const char* kAuthenticationPagePath = "/account/authentication";
// The fields of the page's forms an error can be about (AuthenticationView::error_field).
inline constexpr const char* kInviteEmailField = "invite-email";
inline constexpr const char* kTokenNameField = "token-name";

struct MemberRow {
  int64_t id = 0;
  std::string email;
  std::string role;
  bool two_factor_enabled = false;  // the member's own setting
  bool has_second_factor = false;   // an authenticator is set up
};

struct InvitationRow {
  int64_t id = 0;
  std::string email;
  std::string role;
  std::string status;  // pending, accepted, revoked or expired (the API's)
  int64_t expires_at = 0;
};

// An application (client) with the account's policy for it, as GET …/clients shows it.
struct ClientRow {
  std::string client_id;
  std::string name;  // shown_name
  bool required_by_client = false;   // its own setting: every account's members need 2FA
  bool required_by_account = false;  // this account's policy
};

// A second factor of the server, as a checkbox of the allowed providers.
struct ProviderChoice {
  std::string id;
  std::string display_name;  // the provider's own, e.g. "Authenticator app"
  bool allowed = false;
};

// The form field of a provider's setting: "<provider id>_<key>", e.g. "totp_digits".
std::string setting_field_name(const std::string& provider_id, const SettingField& field);
// A setting's value as its form field carries it: a string as itself, anything else as JSON
// text (8 -> "8").
std::string setting_form_text(const nlohmann::json& value);

// A provider's settings for the account, as the page shows and edits them.
struct ProviderSettingsView {
  std::string id;
  std::string display_name;
  SettingsDescription description;  // the provider's describe_settings()
  nlohmann::json values;            // the account's, as the API's GET answers them
};

// A credential of one member, as the member screen lists it (GET …/credentials).
struct CredentialRow {
  std::string type;   // the provider's display name
  std::string label;
  int64_t created_at = 0;
  int64_t last_used_at = 0;  // 0: never
  bool confirmed = false;
  bool possibly_cloned = false;
  // The provider's public details in its describe_details() order: label and value as text
  // ("yes"/"no", lists joined by ", ", "not known" for what the credential does not record).
  std::vector<std::pair<std::string, std::string>> details;
};

struct TokenRow {
  int64_t id = 0;
  std::string name;
  std::string user_email;  // whom the token acts for
  int64_t created_at = 0;
  int64_t expires_at = 0;  // 0: never
  std::string status;      // active, expired or revoked (the API's)
};

// Where a list's shown page is: its number (1-based), and whether pages come before or after.
struct ListPage {
  int64_t number = 1;
  int64_t total = 0;  // rows in the whole list
  bool has_next = false;
};

// The page numbers the admin page shows, from its query (members_page, invitations_page,
// tokens_page); each list has kConsolePageSize rows a page.
inline constexpr int64_t kConsolePageSize = 50;
struct ConsolePages {
  int64_t members = 1;
  int64_t invitations = 1;
  int64_t tokens = 1;
};

// Data for the page and its screens.
struct AuthenticationView {
  enum class Screen {
    kSettings,              // the configuration page
    kOwnTwoFactorRequired,  // the toggle was slid on by an admin without 2FA: protect yours
    kConfirmEnforce,        // the toggle was slid on: confirm knowing what happens
    kTokenCreated,          // a new API token, shown this once
    kConfirmClientTwoFactor,  // requiring 2FA for an application: confirm knowing who it asks
    kConfirmRemove,           // removing a member: confirm knowing what it ends
    kMemberCredentials,       // one member's credentials with their details (a key's model)
  };
  Screen screen = Screen::kSettings;
  std::string csrf_token;
  std::string email;  // the signed-in admin
  std::string account_name;
  bool can_edit = false;  // auth_settings.edit; without it the page is read-only
  bool enforce_two_factor = false;
  std::vector<ProviderSettingsView> settings;  // the providers with settings to choose
  std::string enrollment_email;            // kEnrollmentEmailQr or kEnrollmentEmailLink
  std::vector<ProviderChoice> providers;   // available_providers, in the API's order
  std::vector<MemberRow> members;          // one page of each list
  std::vector<InvitationRow> invitations;  // newest first
  std::vector<TokenRow> tokens;
  std::vector<ClientRow> clients;  // every application, by client_id
  ListPage members_page;
  ListPage invitations_page;
  ListPage tokens_page;
  // kConfirmEnforce: what confirming does (AdminApi's 428 summary).
  int64_t summary_members = 0;
  int64_t summary_without_two_factor = 0;
  int64_t summary_emails = 0;
  std::string summary_effect;  // what happens to members, in the API's words
  // kTokenCreated: the token itself (never stored, never shown again) and its name.
  std::string new_token;
  std::string new_token_name;
  // kConfirmClientTwoFactor: the application; kConfirmRemove: the member (id and email).
  ClientRow confirm_client;
  int64_t confirm_member_id = 0;
  std::string confirm_member_email;
  // kMemberCredentials: the member (confirm_member_id, confirm_member_email) and theirs.
  std::vector<CredentialRow> credentials;
  std::string notice;
  std::string error_message;
  // The form field error_message is about (kInviteEmailField, kTokenNameField); "" when it is
  // about the page as a whole.
  std::string error_field;
};

// A page to render, or (`web` set) a redirect or error page of the login flow.
struct ConsoleOutcome {
  bool is_page = false;
  std::optional<Fault> fault;  // is_page: the page shown with an error (its status)
  AuthenticationView view;  // is_page
  WebOutcome web;           // !is_page
};

class AdminConsole {
 public:
  // `registry` gives the providers' display names and their settings' descriptions.
  // `sign_in` starts the sign-ins that come back to the console's pages.
  AdminConsole(SignInStarter& sign_in, AdminApi& admin, Directory& directory,
               const ProviderRegistry& registry)
      : sign_in_(sign_in), admin_(admin), directory_(directory), registry_(registry) {}

  // GET /account/authentication. Without a session it starts a sign-in that comes back here;
  // without auth_settings.view it is a 403 error page. `query` may name the page of each
  // list (members_page, invitations_page, tokens_page: 1-based; anything else is a 400), or
  // `member` (a member's id): the kMemberCredentials screen of that member, through
  // AdminApi::credentials (the page with a 404 error for a member of another account).
  ConsoleOutcome page(const Params& query, const BrowserContext& browser);
  // POST /account/authentication with csrf_token (the session's; otherwise a 403 page) and
  // `action`:
  //   enforce [confirm=yes]  slide the toggle on. AdminApi::put_settings decides: its 409
  //                          becomes the "protect your own login first" prompt (answered
  //                          409 too), its 428 the confirmation screen (200), and with
  //                          confirm=yes the change is made and the emails are queued
  //   stop                   turn enforcement off (no confirmation: it changes no user)
  //   reset, user_id         lost device: remove a member's 2FA, end their sessions, revoke
  //                          their grants and API tokens (named in the notice), email
  //   save_settings          one put_settings with enrollment_email, allowed_providers (the
  //                          checked boxes, repeated) and each provider's settings from its
  //                          fields <id>_<key> (e.g. totp_digits); never enforce_two_factor.
  //                          The API validates: its 400 or 409 (totp_required) is shown with
  //                          that status
  //   invite, email, role    AdminApi::invite: a new invitation is emailed; a repeated one is
  //                          the open invitation, emailed once only
  //   revoke_invitation, invitation_id
  //   create_token, name [expires_in]  a new API token for the admin, shown once; expires_in
  //                          (seconds, empty for never) is the API's
  //   revoke_token, token_id
  //   client_two_factor, client_id, require=yes|no [confirm=yes]
  //                          AdminApi::put_client: requiring shows the confirmation screen
  //                          first (200), then with confirm=yes it is made; not requiring
  //                          is made at once
  //   remove, user_id [confirm=yes]
  //                          AdminApi::remove_member, after the confirmation screen (200)
  // Bad input answers the page with an error message and a 4xx status.
  ConsoleOutcome submit(const Params& form, const BrowserContext& browser);

 private:
  // The page's data for `caller` on `screen` with `pages` of the lists, shown with `fault`.
  ConsoleOutcome view(const Caller& caller, const std::string& csrf_token,
                      AuthenticationView::Screen screen, std::optional<Fault> fault,
                      const ConsolePages& pages = {});
  // The kMemberCredentials screen of the member `user_id` names.
  ConsoleOutcome member_credentials(const Caller& caller, const std::string& csrf_token,
                                    const std::string& user_id);
  ConsoleOutcome with_message(ConsoleOutcome out, const ApiOutcome& api, std::string notice);
  ConsoleOutcome web(WebOutcome out) const;

  SignInStarter& sign_in_;
  AdminApi& admin_;
  Directory& directory_;
  const ProviderRegistry& registry_;
};

}  // namespace keystep
