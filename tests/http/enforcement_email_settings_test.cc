// An admin PUT that turns enforcement on and changes the TOTP settings in the same request:
// the enforcement email carries a secret made with the settings the answer shows, not with the
// ones stored before the request.
#include <gtest/gtest.h>

#include "base/crypto/encoding.h"
#include "base/qr_png.h"
#include "tests/http/admin_fixture.h"

namespace keystep::httptest {
namespace {

// The decoded body of the inline image `content_id` of a message built by idp/mail/mail.h.
std::string image_part(const std::string& mime, const std::string& content_id) {
  const auto id = mime.find("Content-ID: <" + content_id + ">");
  if (id == std::string::npos) return "";
  const auto start = mime.find("\r\n\r\n", id);
  const auto end = mime.find("\r\n--", start);
  std::string b64;
  for (char c : mime.substr(start + 4, end - start - 4))
    if (c != '\r' && c != '\n') b64 += c;
  auto png = base64_decode(b64);
  return png ? *png : "";
}

class EnforcementEmailSettings : public AdminApiTest {
 protected:
  // Enforces with new TOTP settings in one request; returns the answer's totp object.
  nlohmann::json enforce_with_new_totp_settings() {
    HttpResponse on = api("PUT", settings_url(), boss_token_,
                          R"({"enforce_two_factor":true,"confirm":true,)"
                          R"("totp":{"algorithm":"SHA256","digits":8,"period":60}})");
    EXPECT_EQ(on.status, 200) << on.body;
    EXPECT_EQ(on.json().value("emails_queued", 0), 1) << on.body;
    return on.json()["totp"];
  }

  // Checks that alice's one queued email carries a secret under `totp` (the QR code's otpauth
  // URI and the typed key), and that it is the pending secret the forced setup shows.
  void expect_email_carries(const nlohmann::json& totp) {
    auto mail = server_->outbox().mail_for(TestServer::kAliceEmail);
    ASSERT_TRUE(mail);
    ASSERT_EQ(mail->size(), 1u);
    const std::string mime = opened((*mail)[0]);
    const User alice = *server_->store().user_by_id(server_->alice_id());
    auto pending = server_->two_factor().pending_totp_enrollment(alice);
    ASSERT_TRUE(pending) << pending.error().message;
    const std::string& uri = pending->otpauth_uri;
    EXPECT_NE(uri.find("digits=" + std::to_string(totp["digits"].get<int>())), std::string::npos)
        << uri;
    EXPECT_NE(uri.find("period=" + std::to_string(totp["period"].get<int>())), std::string::npos)
        << uri;
    EXPECT_NE(uri.find("algorithm=" + totp["algorithm"].get<std::string>()), std::string::npos)
        << uri;
    // The email's QR code is that URI, and its typed key that secret.
    auto png = qr_png(uri);
    ASSERT_TRUE(png);
    EXPECT_TRUE(image_part(mime, "qr") == *png) << "the email's QR code is another otpauth URI";
    EXPECT_NE(text_part(mime).find(pending->display_secret), std::string::npos) << text_part(mime);
    // The stored credential checks codes with the same settings.
    auto credentials = server_->store().credentials_of_user(alice.id);
    ASSERT_TRUE(credentials);
    ASSERT_EQ(credentials->size(), 1u);
    EXPECT_EQ((*credentials)[0].params, totp);
  }
};

TEST_F(EnforcementEmailSettings, EmailCarriesTheTotpSettingsOfTheSameRequest) {
  protect_boss();
  const nlohmann::json totp = enforce_with_new_totp_settings();
  EXPECT_EQ(totp, (nlohmann::json{{"algorithm", "SHA256"}, {"digits", 8}, {"period", 60}}));
  expect_email_carries(totp);
}

// A secret alice began to set up before (under the old settings) is not what the email sends.
TEST_F(EnforcementEmailSettings, EmailDoesNotReuseAPendingSecretOfTheOldSettings) {
  protect_boss();
  const User alice = *server_->store().user_by_id(server_->alice_id());
  auto before = server_->two_factor().begin_totp_enrollment(alice);
  ASSERT_TRUE(before);
  ASSERT_NE(before->otpauth_uri.find("digits=6"), std::string::npos);
  expect_email_carries(enforce_with_new_totp_settings());
}

// With unchanged settings, the secret alice began to set up is the one the email sends, so the
// app she may already have scanned it into keeps working.
TEST_F(EnforcementEmailSettings, EmailReusesAPendingSecretOfTheSameSettings) {
  protect_boss();
  const User alice = *server_->store().user_by_id(server_->alice_id());
  auto before = server_->two_factor().begin_totp_enrollment(alice);
  ASSERT_TRUE(before);
  HttpResponse on =
      api("PUT", settings_url(), boss_token_, R"({"enforce_two_factor":true,"confirm":true})");
  ASSERT_EQ(on.status, 200) << on.body;
  auto mail = server_->outbox().mail_for(TestServer::kAliceEmail);
  ASSERT_TRUE(mail);
  ASSERT_EQ(mail->size(), 1u);
  EXPECT_NE(text_part(opened((*mail)[0])).find(before->display_secret), std::string::npos);
}

}  // namespace
}  // namespace keystep::httptest
