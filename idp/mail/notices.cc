#include "idp/mail/notices.h"

#include "base/html.h"
#include "base/url.h"
#include "idp/mail/mailer.h"

namespace keystep {

namespace {

MailContent cloned_notice(const FactorNotice& n) {
  const std::string what = n.factor_type + " \"" + n.factor_label + "\"";
  const std::string when =
      rfc5322_date(n.at) + (n.address.empty() ? std::string() : " from " + n.address);
  const std::string happened =
      "A sign-in to " + n.account_label + " with your " + what +
      " was refused: the key's signature counter went backwards, which happens when a copy of "
      "the key is being used.";
  const std::string advice =
      "If you still have your key, sign in with another method at " + n.profile_url +
      ", remove the key, add a new one, and tell your administrator.";
  MailContent content;
  content.subject = "Your security key may have been copied (" + n.account_label + ")";
  content.text_body = happened + "\n\nWhen: " + when + "\n\n" + advice + "\n";
  content.html_body = "<p>" + html_escape(happened) + "</p><p>When: " + html_escape(when) +
                      "</p><p>If you still have your key, sign in with another method at <a "
                      "href=\"" + html_escape(n.profile_url) + "\">" +
                      html_escape(n.profile_url) +
                      "</a>, remove the key, add a new one, and tell your administrator.</p>";
  return content;
}

}  // namespace

MailContent factor_notice(const FactorNotice& n) {
  if (n.change == FactorChange::kPossiblyCloned) return cloned_notice(n);
  const bool added = n.change == FactorChange::kAdded;
  const std::string what = n.factor_type + " \"" + n.factor_label + "\"";
  const std::string who = n.by_administrator ? "An administrator of " + n.account_label : "You";
  const std::string verb = added ? " added a second factor to " : " removed a second factor from ";
  const std::string whose = n.by_administrator ? "your sign-in" : "your sign-in to " + n.account_label;
  const std::string when =
      rfc5322_date(n.at) + (n.address.empty() ? std::string() : " from " + n.address);
  const std::string off =
      n.two_factor_off ? "It was your last one: two-factor authentication is now off, and "
                         "your recovery codes no longer work."
                       : "";
  const std::string advice =
      "If this was not you, sign in at " + n.profile_url +
      ", change your password, review your second factors, and tell your administrator.";
  MailContent content;
  content.subject = std::string(added ? "A second factor was added" : "A second factor was removed") +
                    " (" + n.account_label + ")";
  content.text_body = who + verb + whose + ": " + what + ".\n\nWhen: " + when + "\n\n" +
                      (off.empty() ? "" : off + "\n\n") + advice + "\n";
  content.html_body = "<p>" + html_escape(who + verb + whose) + ": <b>" + html_escape(what) +
                      "</b>.</p><p>When: " + html_escape(when) + "</p>" +
                      (off.empty() ? "" : "<p>" + html_escape(off) + "</p>") +
                      "<p>If this was not you, sign in at <a href=\"" +
                      html_escape(n.profile_url) + "\">" + html_escape(n.profile_url) +
                      "</a>, change your password, review your second factors, and tell your "
                      "administrator.</p>";
  return content;
}

Result<OutgoingMail> queued_mail(std::string dedupe_key, const std::string& from,
                                 const std::string& to, MailContent content,
                                 std::string_view host, Random& random, int64_t now) {
  auto message_id = new_message_id(random, host);
  if (!message_id) return message_id.error();
  content.from = from;
  content.to = to;
  content.date = now;
  content.message_id = std::move(*message_id);
  auto mime = build_message(content);
  if (!mime) return mime.error();
  OutgoingMail mail;
  mail.dedupe_key = std::move(dedupe_key);
  mail.to = to;
  mail.subject = content.subject;
  mail.mime = std::move(*mime);
  mail.created_at = now;
  mail.next_attempt_at = now;
  return mail;
}

FactorNotifier::FactorNotifier(MailStore& outbox, const nlohmann::json& mail, std::string issuer,
                               Random& random, const Clock& clock)
    : outbox_(outbox), issuer_(std::move(issuer)), random_(random), clock_(clock) {
  MailConfig config;  // a mail object the configuration accepted; its defaults otherwise
  (void)apply_mail_config_json(mail, config);
  from_ = config.from;
}

Status FactorNotifier::notify(const std::string& to, FactorNotice notice) {
  notice.at = clock_.now();
  notice.profile_url = issuer_ + "/profile";
  const char* kind = notice.change == FactorChange::kAdded     ? "factor-added:"
                     : notice.change == FactorChange::kRemoved ? "factor-removed:"
                                                               : "factor-cloned:";
  const std::string key = kind + std::to_string(notice.factor_id);
  auto host = parse_url(issuer_);
  auto mail = queued_mail(key, from_, to, factor_notice(notice), host ? host->host : "localhost",
                          random_, notice.at);
  if (!mail) return mail.error();
  if (auto s = outbox_.enqueue_mail(*mail); !s && s.error().code != ErrorCode::kAlreadyExists)
    return s;
  if (on_mail_queued_) on_mail_queued_();
  return {};
}

}  // namespace keystep
