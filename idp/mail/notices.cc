#include "idp/mail/notices.h"

#include "base/html.h"

namespace keystep {

MailContent factor_notice(const FactorNotice& n) {
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

}  // namespace keystep
