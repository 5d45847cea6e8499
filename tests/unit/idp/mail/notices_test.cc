#include "idp/mail/notices.h"

#include <gtest/gtest.h>

#include "base/crypto/random.h"

namespace keystep {
namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

FactorNotice notice(FactorChange change) {
  FactorNotice n;
  n.change = change;
  n.factor_label = "Work <phone>";
  n.factor_type = "Authenticator app";
  n.account_label = "Harness-Inc";
  n.profile_url = "https://id.example.com/profile";
  n.address = "192.0.2.7";
  n.at = 1'750'000'000;
  return n;
}

TEST(FactorNotice, AddedByTheMemberNamesTheFactorTimeAndAddress) {
  const MailContent c = factor_notice(notice(FactorChange::kAdded));
  EXPECT_EQ(c.subject, "A second factor was added (Harness-Inc)");
  EXPECT_TRUE(has(c.text_body, "You added a second factor to your sign-in to Harness-Inc: "
                               "Authenticator app \"Work <phone>\".")) << c.text_body;
  EXPECT_TRUE(has(c.text_body, "from 192.0.2.7")) << c.text_body;
  EXPECT_TRUE(has(c.text_body, "https://id.example.com/profile")) << c.text_body;
  ASSERT_TRUE(c.html_body);
  EXPECT_TRUE(has(*c.html_body, "Work &lt;phone&gt;")) << *c.html_body;  // escaped
  EXPECT_FALSE(has(*c.html_body, "<phone>"));
}

TEST(FactorNotice, RemovedByAnAdministratorOfTheLastFactorSaysTwoFactorIsOff) {
  FactorNotice n = notice(FactorChange::kRemoved);
  n.by_administrator = true;
  n.two_factor_off = true;
  const MailContent c = factor_notice(n);
  EXPECT_EQ(c.subject, "A second factor was removed (Harness-Inc)");
  EXPECT_TRUE(has(c.text_body, "An administrator of Harness-Inc removed a second factor from "
                               "your sign-in")) << c.text_body;
  EXPECT_TRUE(has(c.text_body, "two-factor authentication is now off")) << c.text_body;
}

TEST(FactorNotice, APossiblyCopiedKeySaysWhatHappenedAndWhatToDo) {
  FactorNotice n = notice(FactorChange::kPossiblyCloned);
  n.factor_type = "Security key";
  const MailContent c = factor_notice(n);
  EXPECT_EQ(c.subject, "Your security key may have been copied (Harness-Inc)");
  EXPECT_TRUE(has(c.text_body, "A sign-in to Harness-Inc with your Security key \"Work <phone>\" "
                               "was refused: the key's signature counter went backwards"))
      << c.text_body;
  EXPECT_TRUE(has(c.text_body, "remove the key, add a new one")) << c.text_body;
  EXPECT_TRUE(has(c.text_body, "from 192.0.2.7")) << c.text_body;
  ASSERT_TRUE(c.html_body);
  EXPECT_TRUE(has(*c.html_body, "Work &lt;phone&gt;")) << *c.html_body;
  EXPECT_FALSE(has(*c.html_body, "<phone>"));
}

TEST(QueuedMail, BuildsAnUnsealedMessageDueNow) {
  OsRandom random;
  auto mail = queued_mail("factor:1:2", "Keystep <keystep@id.example.com>", "alice@example.com",
                          factor_notice(notice(FactorChange::kAdded)), "id.example.com", random,
                          1'750'000'000);
  ASSERT_TRUE(mail) << mail.error().message;
  EXPECT_EQ(mail->dedupe_key, "factor:1:2");
  EXPECT_EQ(mail->to, "alice@example.com");
  EXPECT_EQ(mail->subject, "A second factor was added (Harness-Inc)");
  EXPECT_EQ(mail->next_attempt_at, 1'750'000'000);
  EXPECT_TRUE(has(mail->mime, "To: alice@example.com\r\n")) << mail->mime;
  EXPECT_TRUE(has(mail->mime, "@id.example.com>\r\n")) << mail->mime;  // the Message-ID
  EXPECT_FALSE(has(mail->mime, std::string(kSealedMimePrefix)));
  EXPECT_FALSE(queued_mail("k", "Keystep <keystep@id.example.com>", "not an address",
                           factor_notice(notice(FactorChange::kAdded)), "id.example.com", random,
                           0));
}

}  // namespace
}  // namespace keystep
