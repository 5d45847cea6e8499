#include "idp/mail/mail.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <set>

#include "base/crypto/encoding.h"
#include "base/html.h"
#include "base/url.h"

namespace keystep {
namespace {

// Fixed boundaries are safe because every part is base64 (see mail.h).
constexpr const char* kAlternativeBoundary = "=_keystep_alternative";
constexpr const char* kRelatedBoundary = "=_keystep_related";
constexpr size_t kMaxRawHeaderValue = 900;  // RFC 5322 caps a line at 998 characters
// "From: " + a quoted name (each character may double) + " <" + an address + ">" stays
// within 998 characters; a longer name is written as folded encoded-words.
constexpr size_t kMaxRawDisplayName = 300;
constexpr size_t kMaxIdLength = 254;  // a message id's local@host, as long as an address
// 39 bytes -> 52 base64 characters -> a 64-character encoded-word, which fits a 78-column
// line after the longest header name we write ("Subject: ").
constexpr size_t kEncodedWordBytes = 39;

Error invalid(std::string what) { return make_error(ErrorCode::kInvalidArgument, what); }

bool has_line_break_or_nul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

Status check_header_text(std::string_view value, const char* field) {
  if (has_line_break_or_nul(value)) {
    return invalid(std::string(field) + " must not contain CR, LF or NUL");
  }
  if (!is_utf8(value)) return invalid(std::string(field) + " is not valid UTF-8");
  return {};
}

bool printable_ascii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

// Characters of an atom (RFC 5322 atext) plus '.', enough for addresses and ids.
bool id_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~.").find(c) != std::string_view::npos;
}

// local@domain, both non-empty atext-and-dots, at most kMaxIdLength characters: the shape
// of a message id (addresses have check_email_address).
bool plausible_addr_spec(std::string_view s) {
  if (s.size() > kMaxIdLength) return false;
  const size_t at = s.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == s.size()) return false;
  if (s.find('@', at + 1) != std::string_view::npos) return false;
  for (char c : s) {
    if (c != '@' && !id_char(c)) return false;
  }
  return true;
}

bool ldh_label(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
    return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct Mailbox {
  std::string_view name;  // empty when absent
  std::string_view addr;
};

Result<Mailbox> parse_mailbox(std::string_view mailbox, const char* field) {
  if (Status s = check_header_text(mailbox, field); !s) return s.error();
  std::string_view text = trim(mailbox);
  Mailbox m;
  if (!text.empty() && text.back() == '>') {
    const size_t lt = text.rfind('<');
    if (lt == std::string_view::npos) return invalid(std::string(field) + ": unbalanced '>'");
    m.name = trim(text.substr(0, lt));
    m.addr = text.substr(lt + 1, text.size() - lt - 2);
  } else {
    m.addr = text;
  }
  if (Status s = check_email_address(m.addr); !s) {
    return invalid(std::string(field) + ": " + s.error().message);
  }
  return m;
}

// encode_header_value without its plain-ASCII shortcut: always folded encoded-words.
std::string encoded_words(std::string_view value) {
  std::string out;
  size_t i = 0;
  while (i < value.size()) {
    size_t end = std::min(value.size(), i + kEncodedWordBytes);
    // Never split a UTF-8 sequence: back up to the start of the character at `end`.
    while (end < value.size() && end > i + 1 &&
           (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64_encode(value.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string format_mailbox(const Mailbox& m) {
  if (m.name.empty()) return std::string(m.addr);
  std::string name;
  if (!printable_ascii(m.name) || m.name.size() > kMaxRawDisplayName ||
      m.name.find("=?") != std::string_view::npos) {
    name = encoded_words(m.name);
  } else if (m.name.find_first_of("()<>[]:;@\\,.\"") != std::string_view::npos) {
    name = "\"";
    for (char c : m.name) {
      if (c == '"' || c == '\\') name += '\\';
      name += c;
    }
    name += '"';
  } else {
    name = std::string(m.name);
  }
  return name + " <" + std::string(m.addr) + ">";
}

bool valid_content_id(std::string_view id) {
  if (id.empty() || id.size() > 200) return false;
  for (char c : id) {
    if (c != '@' && !id_char(c)) return false;
  }
  return true;
}

// Message bodies use CRLF line ends; callers write '\n'.
std::string crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
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

// The HTML part is a whole document: mail clients and screen readers take its language from
// lang and announce its <title>.
std::string html_document(const MailContent& content) {
  return "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
         html_escape(content.subject) + "</title></head><body>" + *content.html_body +
         "</body></html>";
}

std::string text_part(const char* subtype, std::string_view body) {
  return std::string("Content-Type: text/") + subtype +
         "; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64_lines(crlf(body));
}

// Every part ends in CRLF, which doubles as the CRLF that starts the next delimiter.
std::string multipart(const char* subtype, const char* boundary,
                      const std::vector<std::string>& parts) {
  std::string out =
      std::string("Content-Type: multipart/") + subtype + "; boundary=\"" + boundary + "\"\r\n\r\n";
  for (const std::string& part : parts) out += std::string("--") + boundary + "\r\n" + part;
  out += std::string("--") + boundary + "--\r\n";
  return out;
}

}  // namespace

std::string base64_lines(std::string_view data) {
  const std::string b64 = base64_encode(data);
  std::string out;
  out.reserve(b64.size() + b64.size() / 38 + 2);
  for (size_t i = 0; i < b64.size(); i += 76) {
    out.append(b64, i, 76);
    out += "\r\n";
  }
  return out;
}

std::string encode_header_value(std::string_view value) {
  if (printable_ascii(value) && value.size() <= kMaxRawHeaderValue &&
      value.find("=?") == std::string_view::npos) {
    return std::string(value);
  }
  return encoded_words(value);
}

Status check_email_address(std::string_view address) {
  if (address.empty() || address.size() > 254)
    return invalid("an email address must be 1-254 characters");
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size())
    return invalid("an email address must be local-part@domain");
  const std::string_view local = address.substr(0, at);
  const std::string_view domain = address.substr(at + 1);
  if (std::any_of(address.begin(), address.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
    return invalid(
        "an email address must be ASCII (internationalized addresses cannot be delivered)");
  if (local.size() > 64)
    return invalid("the local part of an email address must be 1-64 characters");
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos ||
      !std::all_of(local.begin(), local.end(), [](char c) { return c != '@' && id_char(c); }))
    return invalid(
        "the local part of an email address must be letters, digits, dots (not first, last or "
        "doubled) and !#$%&'*+-/=?^_`{|}~");
  for (size_t start = 0;;) {
    const size_t dot = domain.find('.', start);
    if (!ldh_label(domain.substr(start, dot == std::string_view::npos ? dot : dot - start)))
      return invalid(
          "the domain of an email address must be labels of 1-63 letters, digits and '-' (not "
          "first or last), separated by dots");
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

Result<std::string> mailbox_address(std::string_view mailbox) {
  auto m = parse_mailbox(mailbox, "address");
  if (!m) return m.error();
  return std::string(m->addr);
}

std::string rfc5322_date(int64_t unix_seconds) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const time_t t = static_cast<time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  // Names by hand: strftime's %a and %b follow the locale, RFC 5322 wants English.
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

Result<std::string> new_message_id(Random& random, std::string_view host) {
  if (host.empty()) return invalid("message id host is empty");
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-';
    if (!ok) return invalid("message id host must be a DNS name: " + std::string(host));
  }
  auto bytes = random_bytes(random, 16);
  if (!bytes) return bytes.error();
  return "<" + hex_encode(*bytes) + "@" + std::string(host) + ">";
}

Result<std::string> build_message(const MailContent& content) {
  auto from = parse_mailbox(content.from, "from");
  if (!from) return from.error();
  auto to = parse_mailbox(content.to, "to");
  if (!to) return to.error();
  if (Status s = check_header_text(content.subject, "subject"); !s) return s.error();
  const std::string_view id = content.message_id;
  if (id.size() < 5 || id.front() != '<' || id.back() != '>' ||
      !plausible_addr_spec(id.substr(1, id.size() - 2))) {
    return invalid("message_id must look like <local@host>");
  }
  if (!is_utf8(content.text_body)) return invalid("text_body is not valid UTF-8");
  if (content.html_body && !is_utf8(*content.html_body)) {
    return invalid("html_body is not valid UTF-8");
  }
  // The builder makes the document around the body; a whole document inside it would be a
  // page within a page (a sender written before the builder wrapped bodies).
  if (content.html_body) {
    std::string lower = *content.html_body;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (lower.find("<html") != std::string::npos || lower.find("<!doctype") != std::string::npos)
      return invalid("html_body is the content of <body>, not a whole document");
  }
  if (!content.inline_images.empty() && !content.html_body) {
    return invalid("inline images need an HTML body");
  }
  std::set<std::string_view> seen;
  for (const InlineImage& image : content.inline_images) {
    if (!valid_content_id(image.content_id)) {
      return invalid("content id must be non-empty atext (no <, >, spaces or line breaks)");
    }
    if (!seen.insert(image.content_id).second) {
      return invalid("duplicate content id: " + image.content_id);
    }
  }

  std::string body;
  const std::string text = text_part("plain", content.text_body);
  if (!content.html_body) {
    body = text;
  } else if (content.inline_images.empty()) {
    body = multipart("alternative", kAlternativeBoundary,
                     {text, text_part("html", html_document(content))});
  } else {
    std::vector<std::string> related{text_part("html", html_document(content))};
    for (const InlineImage& image : content.inline_images) {
      const std::string name = image.content_id.substr(0, image.content_id.find('@'));
      related.push_back(
          "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
          "Content-ID: <" +
          image.content_id +
          ">\r\n"
          "Content-Disposition: inline; filename=\"" +
          name + ".png\"\r\n\r\n" + base64_lines(image.png));
    }
    body = multipart("alternative", kAlternativeBoundary,
                     {text, multipart("related", kRelatedBoundary, related)});
  }

  std::string message;
  message.reserve(body.size() + 512);
  message += "Date: " + rfc5322_date(content.date) + "\r\n";
  message += "Message-ID: " + content.message_id + "\r\n";
  message += "From: " + format_mailbox(*from) + "\r\n";
  message += "To: " + format_mailbox(*to) + "\r\n";
  message += "Subject: " + encode_header_value(content.subject) + "\r\n";
  message += "MIME-Version: 1.0\r\n";
  message += body;
  return message;
}

namespace {
std::string mime_aad(std::string_view dedupe_key) {
  return "keystep mail " + std::string(dedupe_key);
}
}  // namespace

Result<std::string> seal_mime(const SecretBox& box, Random& random, std::string_view mime,
                              std::string_view dedupe_key) {
  auto sealed = box.seal(mime, mime_aad(dedupe_key), random);
  if (!sealed) return sealed.error();
  return std::string(kSealedMimePrefix) + base64_encode(*sealed);
}

Result<std::string> open_mime(const SecretBox& box, std::string_view stored,
                              std::string_view dedupe_key) {
  if (stored.substr(0, kSealedMimePrefix.size()) != kSealedMimePrefix) return std::string(stored);
  auto sealed = base64_decode(stored.substr(kSealedMimePrefix.size()));
  if (!sealed) return make_error(ErrorCode::kInternal, "the sealed message is damaged");
  auto clear = box.open(*sealed, mime_aad(dedupe_key));
  if (!clear)
    return make_error(ErrorCode::kDenied,
                      "cannot unseal the message (another master key?): " + clear.error().message);
  return *clear;
}

}  // namespace keystep
