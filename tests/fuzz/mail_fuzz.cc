// MIME building (idp/mail/mail.h) from user-supplied names and addresses: members' and invited
// addresses, account labels and display names end up in From, To and Subject.
//
// Input: fields separated by ASCII RS (0x1E): from, to, subject, message id, content id of
// an inline image (empty: none), HTML body (empty: none), then the text body. Properties:
//  - a header field with CR, LF or NUL is refused (no header injection);
//  - a built message is 7-bit ASCII without NUL, every line ends in CRLF and has at most 998
//    characters (RFC 5322 §2.1.1), an encoded Subject's at most 78;
//  - its header block holds exactly the headers we write, each once: nothing a field
//    carried became a header of its own;
//  - the text part decodes back to the text body (line ends as CRLF);
//  - encode_header_value is ASCII, folded, and its encoded-words decode back to the value;
//  - mailbox_address gives one plain address with a single '@'.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "base/crypto/encoding.h"
#include "idp/mail/mail.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using keystep::fuzz::is_utf8;

bool has_break_or_nul(const std::string& s) {
  return s.find_first_of(std::string("\r\n\0", 3)) != std::string::npos;
}

std::string crlf(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (text[i] == '\n') {
      out += "\r\n";
    } else {
      out += text[i];
    }
  }
  return out;
}

// The lines of a CRLF text (without their CRLF); false if a CR or LF stands alone.
bool crlf_lines(const std::string& text, std::vector<std::string>& lines) {
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find("\r\n", start);
    if (end == std::string::npos) return false;  // the last line has no CRLF
    const std::string line = text.substr(start, end - start);
    if (line.find_first_of("\r\n") != std::string::npos) return false;
    lines.push_back(line);
    start = end + 2;
  }
  return true;
}

// The value an RFC 2047 header value stands for (UTF-8, B encoding, as we write them).
std::string decode_header_value(const std::string& encoded) {
  if (encoded.rfind("=?UTF-8?B?", 0) != 0) return encoded;
  std::string out;
  size_t at = 0;
  while (at < encoded.size()) {
    FUZZ_CHECK(encoded.compare(at, 10, "=?UTF-8?B?") == 0);
    const size_t end = encoded.find("?=", at + 10);
    FUZZ_CHECK(end != std::string::npos);
    auto bytes = keystep::base64_decode(encoded.substr(at + 10, end - at - 10));
    FUZZ_CHECK(bytes.ok());
    out += *bytes;
    at = end + 2;
    if (at < encoded.size()) {
      FUZZ_CHECK(encoded.compare(at, 3, "\r\n ") == 0);
      at += 3;
    }
  }
  return out;
}

void check_header_encoding(const std::string& value) {
  if (has_break_or_nul(value) || !is_utf8(value)) return;  // the builder refuses these
  const std::string encoded = keystep::encode_header_value(value);
  std::vector<std::string> lines;
  FUZZ_CHECK(crlf_lines(encoded + "\r\n", lines));
  for (size_t i = 0; i < lines.size(); ++i) {
    for (char c : lines[i]) FUZZ_CHECK(c >= 0x20 && c <= 0x7E);
    if (i > 0) FUZZ_CHECK(!lines[i].empty() && lines[i][0] == ' ');
    // Encoded-words fit 78 columns after "Subject: "; plain ASCII up to 900 stays as it is.
    if (encoded != value) FUZZ_CHECK(lines[i].size() + (i == 0 ? 9 : 0) <= 78);
  }
  FUZZ_CHECK(decode_header_value(encoded) == value);
}

void check_address(const std::string& mailbox) {
  auto addr = keystep::mailbox_address(mailbox);
  if (has_break_or_nul(mailbox)) FUZZ_CHECK(!addr);
  if (!addr) return;
  FUZZ_CHECK(std::count(addr->begin(), addr->end(), '@') == 1);
  FUZZ_CHECK(addr->front() != '@' && addr->back() != '@');
  FUZZ_CHECK(addr->size() <= 254);
  for (char c : *addr) {
    FUZZ_CHECK(c > 0x20 && c < 0x7F);
    FUZZ_CHECK(std::string_view("<>\"(),;:\\[] ").find(c) == std::string_view::npos);
  }
}

void check_message(const keystep::MailContent& content, const std::string& message) {
  for (char c : message) FUZZ_CHECK(c > 0 && static_cast<unsigned char>(c) < 0x80);
  std::vector<std::string> lines;
  FUZZ_CHECK(crlf_lines(message, lines));
  for (const auto& line : lines) FUZZ_CHECK(line.size() <= 998);

  // The message's own header block: up to the first empty line.
  std::map<std::string, int> count;
  std::string name;
  size_t i = 0;
  for (; i < lines.size() && !lines[i].empty(); ++i) {
    const std::string& line = lines[i];
    if (line[0] == ' ' || line[0] == '\t') {
      FUZZ_CHECK(i > 0);
      if (name == "Subject") FUZZ_CHECK(line.size() <= 78);  // folded: encoded-words
      continue;
    }
    const size_t colon = line.find(": ");
    FUZZ_CHECK(colon != std::string::npos);
    name = line.substr(0, colon);
    ++count[name];
    if (name == "Subject" && line.find("=?UTF-8?B?") != std::string::npos)
      FUZZ_CHECK(line.size() <= 78);
  }
  for (const char* expected :
       {"Date", "Message-ID", "From", "To", "Subject", "MIME-Version", "Content-Type"}) {
    FUZZ_CHECK(count[expected] == 1);
  }
  count.erase("Content-Transfer-Encoding");
  FUZZ_CHECK(count.size() == 7);

  // The text part, base64 up to its first empty line or boundary.
  const std::string marker =
      "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  const size_t at = message.find(marker);
  FUZZ_CHECK(at != std::string::npos);
  std::string b64;
  for (size_t p = at + marker.size(); p < message.size();) {
    const size_t end = message.find("\r\n", p);
    const std::string line = message.substr(p, end - p);
    if (line.empty() || line.rfind("--", 0) == 0) break;
    b64 += line;
    p = end + 2;
  }
  auto text = keystep::base64_decode(b64);
  FUZZ_CHECK(text && *text == crlf(content.text_body));

  auto to = keystep::mailbox_address(content.to);
  FUZZ_CHECK(to.ok());
  FUZZ_CHECK(message.find("\r\nTo: ") != std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto fields = keystep::fuzz::split_fields(keystep::fuzz::as_text(data, size), 7,
                                                  keystep::fuzz::kFieldSeparator);
  keystep::MailContent content;
  content.from = fields[0];
  content.to = fields[1];
  content.subject = fields[2];
  content.message_id = fields[3];
  if (!fields[5].empty()) content.html_body = fields[5];
  if (!fields[4].empty()) content.inline_images.push_back({fields[4], "\x89PNG\r\n\x1a\n"});
  content.text_body = fields[6];
  content.date = keystep::fuzz::FixedClock::kStart;

  check_header_encoding(content.subject);
  check_header_encoding(content.from);
  check_address(content.from);
  check_address(content.to);

  auto message = keystep::build_message(content);
  if (has_break_or_nul(content.from) || has_break_or_nul(content.to) ||
      has_break_or_nul(content.subject)) {
    FUZZ_CHECK(!message);
  }
  if (message) check_message(content, *message);
  return 0;
}
