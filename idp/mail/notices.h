#pragma once
// Security notices: the emails that tell a member what changed on their own sign-in (a
// second factor added or removed, by them or by an administrator), so a change they did
// not make does not go unnoticed. Built for the outbox (idp/store/mail_store.h). Stateless
// and thread-safe.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/crypto/random.h"
#include "base/result.h"
#include "idp/mail/mail.h"
#include "idp/store/mail_store.h"

namespace keystep {

// kPossiblyCloned: a security key's signature counter went backwards at a sign-in, which
// happens when two copies of the key sign; the sign-in was refused.
enum class FactorChange { kAdded, kRemoved, kPossiblyCloned };

struct FactorNotice {
  FactorChange change = FactorChange::kAdded;
  std::string factor_label;   // the factor's name, e.g. "Work phone"
  std::string factor_type;    // its provider's display name, e.g. "Authenticator app"
  std::string account_label;  // the account's issuer label, e.g. "Harness-Inc"
  bool by_administrator = false;
  // The member's 2FA is now off: the removed factor was their last.
  bool two_factor_off = false;
  std::string profile_url;  // where the member reviews their factors
  std::string address;      // the client address of the change ("" when unknown)
  int64_t at = 0;           // unix seconds
  int64_t factor_id = 0;    // the credential's id: one notice per change of it
};

// The notice's subject and bodies (text and HTML, values escaped); from, to, date and
// message id are left for the caller.
MailContent factor_notice(const FactorNotice& notice);

// A message for MailStore::enqueue_mail: `content` from `from` to the bare address `to`,
// dated `now`, with a new Message-ID on `host`, built (build_message) and due now, under
// `dedupe_key`. Not sealed: only for messages that carry no secret (notices; setup emails
// are sealed, idp/mail/mail.h seal_mime). build_message's and the Random's errors.
Result<OutgoingMail> queued_mail(std::string dedupe_key, const std::string& from,
                                 const std::string& to, MailContent content,
                                 std::string_view host, Random& random, int64_t now);

// Queues factor notices in the outbox: the one way the profile, the sign-in's forced setup and
// the admin API tell a member that a second factor was added or removed. Thread-safe.
class FactorNotifier {
 public:
  // `mail` is the configuration's mail object (its "from", apply_mail_config_json); `issuer`
  // gives the profile link and the Message-ID host.
  FactorNotifier(MailStore& outbox, const nlohmann::json& mail, std::string issuer,
                 Random& random, const Clock& clock);
  // Called after a notice was queued (e.g. Mailer::notify). Set before serving.
  void set_on_mail_queued(std::function<void()> callback) { on_mail_queued_ = std::move(callback); }
  // Queues `notice` for `to`, with its time and profile link filled in, once per
  // (change, factor_id): a notice queued already counts as queued. The outbox's and
  // build_message's errors otherwise (an address that cannot receive mail: kInvalidArgument).
  Status notify(const std::string& to, FactorNotice notice);

 private:
  MailStore& outbox_;
  std::string from_;
  std::string issuer_;
  Random& random_;
  const Clock& clock_;
  std::function<void()> on_mail_queued_;
};

}  // namespace keystep
