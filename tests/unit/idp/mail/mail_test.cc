// The MIME builder: messages are parsed back part by part and compared with what went in.

#include "idp/mail/mail.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "base/crypto/encoding.h"
#include "base/qr_png.h"

namespace keystep {
namespace {

// A parsed entity: headers by lower-case name (folded lines joined) and the raw body.
struct Entity {
  std::map<std::string, std::string> headers;
  std::string body;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Entity parse_entity(const std::string& text) {
  Entity e;
  const size_t end = text.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos) << "no blank line after the headers";
  std::string last;
  size_t pos = 0;
  while (pos < end) {
    size_t eol = text.find("\r\n", pos);
    if (eol > end) eol = end;
    const std::string line = text.substr(pos, eol - pos);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      e.headers[last] += line;  // unfold: CRLF removed, the whitespace stays
    } else {
      const size_t colon = line.find(':');
      EXPECT_NE(colon, std::string::npos) << line;
      last = lower(line.substr(0, colon));
      EXPECT_EQ(e.headers.count(last), 0u) << "duplicate header " << last;
      e.headers[last] = line.substr(colon + 2);
    }
    pos = eol + 2;
  }
  e.body = text.substr(end + 4);
  return e;
}

std::string boundary_of(const Entity& e) {
  const std::string& type = e.headers.at("content-type");
  const size_t at = type.find("boundary=\"");
  EXPECT_NE(at, std::string::npos) << type;
  const size_t start = at + std::strlen("boundary=\"");
  return type.substr(start, type.find('"', start) - start);
}

std::vector<Entity> parts_of(const Entity& e) {
  const std::string delimiter = "--" + boundary_of(e);
  std::vector<Entity> parts;
  size_t pos = e.body.find(delimiter + "\r\n");
  EXPECT_EQ(pos, 0u) << "body must start with the first delimiter";
  for (;;) {
    const size_t start = pos + delimiter.size() + 2;
    const size_t next = e.body.find("\r\n" + delimiter, start);
    EXPECT_NE(next, std::string::npos) << "unterminated multipart";
    if (next == std::string::npos) return parts;
    parts.push_back(parse_entity(e.body.substr(start, next + 2 - start)));
    pos = next + 2;
    if (e.body.compare(pos + delimiter.size(), 4, "--\r\n") == 0) {
      EXPECT_EQ(pos + delimiter.size() + 4, e.body.size()) << "text after the close delimiter";
      return parts;
    }
  }
}

// Decodes a base64 body, checking its lines are at most 76 characters.
std::string decode_base64_body(const Entity& e) {
  EXPECT_EQ(e.headers.at("content-transfer-encoding"), "base64");
  std::string joined;
  size_t pos = 0;
  while (pos < e.body.size()) {
    const size_t eol = e.body.find("\r\n", pos);
    EXPECT_NE(eol, std::string::npos) << "base64 line without CRLF";
    if (eol == std::string::npos) break;
    EXPECT_LE(eol - pos, 76u);
    joined += e.body.substr(pos, eol - pos);
    pos = eol + 2;
  }
  auto decoded = base64_decode(joined);
  EXPECT_TRUE(decoded.ok());
  return decoded.ok() ? *decoded : std::string();
}

// Decodes a header made of RFC 2047 B encoded-words separated by folding whitespace.
std::string decode_encoded_words(const std::string& value) {
  std::string out;
  size_t pos = 0;
  while ((pos = value.find("=?UTF-8?B?", pos)) != std::string::npos) {
    const size_t start = pos + std::strlen("=?UTF-8?B?");
    const size_t end = value.find("?=", start);
    auto decoded = base64_decode(value.substr(start, end - start));
    EXPECT_TRUE(decoded.ok());
    if (decoded.ok()) out += *decoded;
    pos = end + 2;
  }
  return out;
}

void expect_wire_safe(const std::string& message) {
  for (size_t i = 0; i < message.size(); ++i) {
    const auto c = static_cast<unsigned char>(message[i]);
    ASSERT_LT(c, 0x80) << "non-ASCII byte at " << i;
    if (c == '\n') {
      ASSERT_TRUE(i > 0 && message[i - 1] == '\r') << "bare LF at " << i;
    }
    if (c == '\r') {
      ASSERT_TRUE(i + 1 < message.size() && message[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  const size_t header_end = message.find("\r\n\r\n");
  size_t pos = 0;
  while (pos < header_end) {
    const size_t eol = message.find("\r\n", pos);
    EXPECT_LE(eol - pos, 78u) << message.substr(pos, eol - pos);
    pos = eol + 2;
  }
}

MailContent setup_email(const std::string& png) {
  MailContent c;
  c.from = "Keystep <no-reply@id.example.com>";
  c.to = "alice@example.com";
  c.subject = "Set up two-factor authentication";
  c.text_body = "Scan the QR code.\nSecret: JBSWY3DPEHPK3PXP\n";
  c.html_body = "<p>Scan this:</p><img src=\"cid:qr@keystep\" alt=\"QR code\">";
  c.inline_images = {{"qr@keystep", png}};
  c.date = 1'700'000'000;
  c.message_id = "<0123abcd@id.example.com>";
  return c;
}

TEST(BuildMessage, HtmlWithInlinePngParsesBackToItsParts) {
  auto png = qr_png("otpauth://totp/Harness:alice?secret=JBSWY3DPEHPK3PXP");
  ASSERT_TRUE(png.ok());
  auto message = build_message(setup_email(*png));
  ASSERT_TRUE(message.ok()) << message.error().message;
  expect_wire_safe(*message);

  const Entity top = parse_entity(*message);
  EXPECT_EQ(top.headers.at("date"), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(top.headers.at("message-id"), "<0123abcd@id.example.com>");
  EXPECT_EQ(top.headers.at("from"), "Keystep <no-reply@id.example.com>");
  EXPECT_EQ(top.headers.at("to"), "alice@example.com");
  EXPECT_EQ(top.headers.at("subject"), "Set up two-factor authentication");
  EXPECT_EQ(top.headers.at("mime-version"), "1.0");
  EXPECT_EQ(top.headers.at("content-type").rfind("multipart/alternative;", 0), 0u);

  const std::vector<Entity> alternatives = parts_of(top);
  ASSERT_EQ(alternatives.size(), 2u);
  EXPECT_EQ(alternatives[0].headers.at("content-type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(decode_base64_body(alternatives[0]),
            "Scan the QR code.\r\nSecret: JBSWY3DPEHPK3PXP\r\n");

  const Entity& related = alternatives[1];
  EXPECT_EQ(related.headers.at("content-type").rfind("multipart/related;", 0), 0u);
  EXPECT_NE(boundary_of(related), boundary_of(top));
  const std::vector<Entity> parts = parts_of(related);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].headers.at("content-type"), "text/html; charset=UTF-8");
  const std::string html = decode_base64_body(parts[0]);
  EXPECT_NE(html.find("src=\"cid:qr@keystep\""), std::string::npos);

  const Entity& image = parts[1];
  EXPECT_EQ(image.headers.at("content-type"), "image/png");
  EXPECT_EQ(image.headers.at("content-id"), "<qr@keystep>");
  EXPECT_EQ(image.headers.at("content-disposition").rfind("inline", 0), 0u);
  EXPECT_EQ(decode_base64_body(image), *png);
}

TEST(BuildMessage, TextOnlyIsASinglePart) {
  MailContent c = setup_email("");
  c.html_body.reset();
  c.inline_images.clear();
  auto message = build_message(c);
  ASSERT_TRUE(message.ok()) << message.error().message;
  const Entity top = parse_entity(*message);
  EXPECT_EQ(top.headers.at("content-type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(decode_base64_body(top), "Scan the QR code.\r\nSecret: JBSWY3DPEHPK3PXP\r\n");
}

TEST(BuildMessage, HtmlWithoutImagesIsAlternativeOfTwoTexts) {
  MailContent c = setup_email("");
  c.inline_images.clear();
  c.html_body = "<p>Hello</p>";
  auto message = build_message(c);
  ASSERT_TRUE(message.ok()) << message.error().message;
  const std::vector<Entity> parts = parts_of(parse_entity(*message));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[1].headers.at("content-type"), "text/html; charset=UTF-8");
  EXPECT_EQ(decode_base64_body(parts[1]),
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Set up "
            "two-factor authentication</title></head><body><p>Hello</p></body></html>");
}

TEST(BuildMessage, NonAsciiHeadersBecomeFoldedEncodedWords) {
  MailContent c = setup_email("png");
  c.subject =
      "Zwei-Faktor-Authentifizierung für Ihr Konto bei Grüße & Söhne ✓ — bitte jetzt "
      "einrichten";
  c.from = "Jürgen Müller <no-reply@id.example.com>";
  auto message = build_message(c);
  ASSERT_TRUE(message.ok()) << message.error().message;
  expect_wire_safe(*message);
  const Entity top = parse_entity(*message);
  const std::string& subject = top.headers.at("subject");
  EXPECT_EQ(subject.rfind("=?UTF-8?B?", 0), 0u);
  EXPECT_EQ(decode_encoded_words(subject), c.subject);
  EXPECT_NE(message->find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(message->find("?=\r\n =?UTF-8?B?"), std::string::npos) << "long subject is folded";
  const std::string& from = top.headers.at("from");
  EXPECT_EQ(decode_encoded_words(from), "Jürgen Müller");
  EXPECT_NE(from.find(" <no-reply@id.example.com>"), std::string::npos);
}

TEST(EncodeHeaderValue, KeepsPlainAsciiAndNeverSplitsACharacter) {
  EXPECT_EQ(encode_header_value("Hello there"), "Hello there");
  // "=?" in plain text would be read as an encoded-word, so it is encoded.
  EXPECT_EQ(encode_header_value("a =?b"), "=?UTF-8?B?" + base64_encode("a =?b") + "?=");
  std::string umlauts;
  for (int i = 0; i < 40; ++i) umlauts += "ü";
  const std::string encoded = encode_header_value(umlauts);
  size_t pos = 0;
  while ((pos = encoded.find("=?UTF-8?B?", pos)) != std::string::npos) {
    const size_t start = pos + 10;
    auto word = base64_decode(encoded.substr(start, encoded.find("?=", start) - start));
    ASSERT_TRUE(word.ok());
    EXPECT_EQ(word->size() % 2, 0u) << "a word ends inside a character";
    EXPECT_LE(encoded.find("?=", start) + 2 - pos, 75u) << "encoded-word too long";
    pos = start;
  }
  EXPECT_EQ(decode_encoded_words(encoded), umlauts);
}

TEST(BuildMessage, QuotesAsciiDisplayNamesWithSpecials) {
  MailContent c = setup_email("png");
  c.from = "Keystep, \"Admin\" <no-reply@id.example.com>";
  auto message = build_message(c);
  ASSERT_TRUE(message.ok()) << message.error().message;
  EXPECT_EQ(parse_entity(*message).headers.at("from"),
            "\"Keystep, \\\"Admin\\\"\" <no-reply@id.example.com>");
}

TEST(BuildMessage, RefusesLineBreaksInEveryHeaderField) {
  const std::string png = "png";
  std::vector<MailContent> bad(6, setup_email(png));
  bad[0].subject = "Hi\r\nBcc: victim@example.com";
  bad[1].to = "alice@example.com\r\nBcc: victim@example.com";
  bad[2].from = "Keystep\n <no-reply@id.example.com>";
  bad[3].message_id = "<a@b>\r\nBcc: victim@example.com";
  bad[4].inline_images[0].content_id = "qr@keystep>\r\nX-Evil: 1";
  bad[5].subject = std::string("nul\0byte", 8);
  for (const MailContent& c : bad) {
    auto message = build_message(c);
    ASSERT_FALSE(message.ok());
    EXPECT_EQ(message.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(BuildMessage, RefusesMalformedInput) {
  auto refused = [](const MailContent& c) {
    auto message = build_message(c);
    return !message.ok() && message.error().code == ErrorCode::kInvalidArgument;
  };
  MailContent c = setup_email("png");
  c.to = "not an address";
  EXPECT_TRUE(refused(c));
  c = setup_email("png");
  c.to = "a@b@c";
  EXPECT_TRUE(refused(c));
  c = setup_email("png");
  c.message_id = "no-brackets@host";
  EXPECT_TRUE(refused(c));
  c = setup_email("png");
  c.html_body.reset();  // images need HTML
  EXPECT_TRUE(refused(c));
  c = setup_email("png");
  c.inline_images.push_back(c.inline_images[0]);
  EXPECT_TRUE(refused(c));
  c = setup_email("png");
  c.text_body = "\xFF\xFE";
  EXPECT_TRUE(refused(c));
  c = setup_email("png");
  c.subject = "\xC0\xAF";  // overlong '/'
  EXPECT_TRUE(refused(c));
  c = setup_email("png");
  c.html_body = "<!DOCTYPE html><html><body><p>a page in the page</p></body></html>";
  EXPECT_TRUE(refused(c));  // the builder makes the document
}

// Found by tests/fuzz/mail_fuzz: an address or a printable display name of any length went
// into From/To as is, past RFC 5322's 998-character line limit.
TEST(BuildMessage, RefusesAddressesAndIdsLongerThanSmtpAllows) {
  // 64 + 1 + 189 = 254 characters, the longest address.
  const std::string longest = std::string(64, 'x') + "@" + std::string(63, 'a') + "." +
                              std::string(63, 'b') + "." + std::string(61, 'c');
  EXPECT_TRUE(mailbox_address(longest).ok());
  EXPECT_FALSE(mailbox_address(longest + "c").ok());
  MailContent c = setup_email("png");
  c.to = std::string(1200, 'x') + "@example.com";
  auto message = build_message(c);
  ASSERT_FALSE(message.ok());
  EXPECT_EQ(message.error().code, ErrorCode::kInvalidArgument);
  c = setup_email("png");
  c.message_id = "<" + std::string(1200, 'x') + "@example.com>";
  message = build_message(c);
  ASSERT_FALSE(message.ok());
  EXPECT_EQ(message.error().code, ErrorCode::kInvalidArgument);
}

TEST(BuildMessage, FoldsLongDisplayNamesWithinTheLineLimit) {
  MailContent c = setup_email("png");
  std::string name;  // 780 characters: under the 900 a Subject may keep, too long here
  for (int i = 0; i < 130; ++i) name += "Name, ";
  const std::string address = std::string(64, 'x') + "@" + std::string(63, 'a') + "." +
                              std::string(63, 'b') + "." + std::string(61, 'c');  // 254
  c.from = name + "<" + address + ">";
  auto message = build_message(c);
  ASSERT_TRUE(message.ok()) << message.error().message;
  for (size_t pos = 0; pos < message->size();) {
    const size_t eol = message->find("\r\n", pos);
    ASSERT_NE(eol, std::string::npos);
    EXPECT_LE(eol - pos, 998u);
    pos = eol + 2;
  }
  const std::string from = parse_entity(*message).headers.at("from");
  EXPECT_EQ(decode_encoded_words(from), name.substr(0, name.size() - 1));
  EXPECT_NE(from.find(" <" + address + ">"), std::string::npos);
}

TEST(MailboxAddress, ExtractsTheBareAddress) {
  EXPECT_EQ(*mailbox_address("Keystep <no-reply@id.example.com>"), "no-reply@id.example.com");
  EXPECT_EQ(*mailbox_address("  bob@example.com "), "bob@example.com");
  EXPECT_FALSE(mailbox_address("Keystep <>").ok());
  EXPECT_FALSE(mailbox_address("bob@example.com>").ok());
  EXPECT_FALSE(mailbox_address("bob example.com").ok());
  EXPECT_FALSE(mailbox_address("bob@exa mple.com").ok());
}

class CountingRandom final : public Random {
 public:
  Status fill(unsigned char* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(i);
    return {};
  }
};

TEST(NewMessageId, IsRandomHexAtTheHost) {
  CountingRandom random;
  auto id = new_message_id(random, "id.example.com");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "<000102030405060708090a0b0c0d0e0f@id.example.com>");
  EXPECT_FALSE(new_message_id(random, "evil>\r\n").ok());
  EXPECT_FALSE(new_message_id(random, "").ok());
}

TEST(Rfc5322Date, UsesEnglishNamesInUtc) {
  EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(1'709'210'096), "Thu, 29 Feb 2024 12:34:56 +0000");
}

TEST(Base64Lines, WrapsAt76WithCrlf) {
  const std::string data(200, 'x');
  const std::string lines = base64_lines(data);
  EXPECT_EQ(lines.substr(76, 2), "\r\n");
  EXPECT_EQ(lines.substr(lines.size() - 2), "\r\n");
  std::string joined;
  for (char c : lines) {
    if (c != '\r' && c != '\n') joined += c;
  }
  EXPECT_EQ(*base64_decode(joined), data);
  EXPECT_EQ(base64_lines(""), "");
}

}  // namespace
}  // namespace keystep
