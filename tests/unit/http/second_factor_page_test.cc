// The second step's page as http/ renders it from a SecondFactorView.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "http/pages.h"

namespace keystep::http {
namespace {

bool has(const std::string& page, const std::string& text) {
  return page.find(text) != std::string::npos;
}

SecondFactorView typed_view() {
  SecondFactorView v;
  v.flow_id = "flow-1";
  v.csrf_token = "csrf";
  v.method = "totp";
  v.method_name = "Authenticator app";
  v.input.min_length = 6;
  v.input.max_length = 8;
  v.input.characters = "0123456789";
  return v;
}

// Every <script> element loads a file: none holds code of its own.
void expect_no_inline_script(const std::string& page) {
  static const std::regex script("<script([^>]*)>([^<]*)</script>");
  for (auto it = std::sregex_iterator(page.begin(), page.end(), script);
       it != std::sregex_iterator(); ++it) {
    EXPECT_NE((*it)[1].str().find(" src=\""), std::string::npos) << it->str();
    EXPECT_TRUE((*it)[2].str().empty()) << it->str();
  }
  static const std::regex handler("<[^>]*\\son[a-z]+=");
  EXPECT_FALSE(std::regex_search(page, handler)) << "an event handler attribute";
}

TEST(SecondFactorPage, ATypedCodeFieldFollowsTheProvidersInput) {
  const std::string page = render_second_factor_page(typed_view());
  EXPECT_TRUE(has(page, "inputmode=\"numeric\"")) << page;
  EXPECT_TRUE(has(page, "autocomplete=\"one-time-code\""));
  EXPECT_TRUE(has(page, "minlength=\"6\""));
  EXPECT_TRUE(has(page, "maxlength=\"10\""));  // room for the spaces apps show
  EXPECT_TRUE(has(page, "pattern=\" *(?:[0123456789] *){6,8}\""));
  EXPECT_TRUE(has(page, "required"));
  EXPECT_FALSE(has(page, "<script"));
  // Without JavaScript the form posts the code itself.
  EXPECT_TRUE(has(page, "<form method=\"post\" action=\"/login/second-factor\""));
  EXPECT_TRUE(has(page, "name=\"code\""));
}

TEST(SecondFactorPage, ThePatternEscapesWhatARegexClassMustAndRefusesControls) {
  SecondFactorView v = typed_view();
  v.input.characters = "ab-]\\^cc";
  v.input.inputmode = "text";
  const std::string page = render_second_factor_page(v);
  EXPECT_TRUE(has(page, "pattern=\" *(?:[ab\\-\\]\\\\\\^c] *){6,8}\"")) << page;
  EXPECT_TRUE(has(page, "inputmode=\"text\""));
  v.input.characters = "ab\n";
  EXPECT_FALSE(has(render_second_factor_page(v), "pattern="));
}

TEST(SecondFactorPage, ARecoveryCodeIsNotOfferedAsAOneTimeCodeFromMessages) {
  SecondFactorView v = typed_view();
  v.method = "recovery_code";
  v.method_name = "Recovery code";
  v.input.one_time_code = false;
  const std::string page = render_second_factor_page(v);
  EXPECT_TRUE(has(page, "Enter a recovery code"));
  EXPECT_TRUE(has(page, "autocomplete=\"off\""));
}

TEST(SecondFactorPage, ACeremonyLoadsOneSameOriginScriptAndKeepsItsOptionsInTheForm) {
  SecondFactorView v = typed_view();
  v.method = "webauthn";
  v.method_name = "Security key";
  v.input = ResponseField{};
  v.input.ceremony = true;
  v.input.script = "/assets/webauthn.js";
  v.input.client_options = R"({"challenge":"</script><script>alert(1)</script>"})";
  const std::string page = render_second_factor_page(v);
  EXPECT_TRUE(has(page, "<script src=\"/assets/webauthn.js\" defer></script>")) << page;
  EXPECT_TRUE(has(page, "data-options=\"{&quot;challenge&quot;:&quot;&lt;/script&gt;"));
  EXPECT_TRUE(has(page, "<noscript>"));
  expect_no_inline_script(page);
  for (const char* elsewhere : {"//evil.example/x.js", "https://evil.example/x.js", "x.js"}) {
    v.input.script = elsewhere;
    EXPECT_FALSE(has(render_second_factor_page(v), "<script")) << elsewhere;
  }
}

TEST(SecondFactorPage, TheSetupStepRunsASecurityKeysRegistrationAndOffersTheOtherKinds) {
  SecondFactorView v = typed_view();
  v.flow_id = "a&b";
  v.method = "setup";
  v.setup_provider = "webauthn";
  v.setup.script = "/assets/webauthn.js";
  v.setup.ceremony = R"({"challenge":"</script>"})";
  v.setup_alternatives = {{"totp", "Authenticator app"}};
  const std::string page = render_second_factor_page(v);
  EXPECT_TRUE(has(page, "data-ceremony=\"create\" data-options=\"{&quot;challenge&quot;:&quot;&lt;/script&gt;"))
      << page;
  EXPECT_TRUE(has(page, "<input type=\"hidden\" name=\"setup\" value=\"webauthn\">")) << page;
  EXPECT_TRUE(has(page, "<script src=\"/assets/webauthn.js\" defer></script>")) << page;
  EXPECT_TRUE(has(page, "href=\"/login/second-factor?flow=a%26b&amp;setup=totp\">Authenticator app</a>"))
      << page;
  expect_no_inline_script(page);
}

TEST(SecondFactorPage, UseAnotherMethodLinksEachOtherMethod) {
  SecondFactorView v = typed_view();
  v.flow_id = "a&b";
  v.other_methods = {{"static_code", "Static test code"}, {"recovery_code", "Recovery code"}};
  const std::string page = render_second_factor_page(v);
  EXPECT_TRUE(has(page, "Use another method")) << page;
  EXPECT_TRUE(has(page,
                  "<a class=\"link\" href=\"/login/second-factor?flow=a%26b&amp;"
                  "method=static_code\">Static test code</a>"))
      << page;
  EXPECT_TRUE(has(page, "method=recovery_code\">Recovery code</a>"));
  v.other_methods.clear();
  EXPECT_FALSE(has(render_second_factor_page(v), "Use another method"));
}

}  // namespace
}  // namespace keystep::http
