#pragma once
// Email messages as RFC 5322 text: the model of what the IdP sends (a setup email with an
// inline QR code, a reset notice) and the MIME builder that turns it into the bytes an SMTP
// server or an .eml file receives. Stateless and thread-safe.
//
// Every line of a built message ends in CRLF and every byte is 7-bit ASCII: header values
// with other characters become RFC 2047 encoded-words, and every body part is base64 in
// 76-character lines. So the message is safe to pass through SMTP unchanged, and the
// fixed boundaries ("=_…") can never occur inside a part ('=' and '_' start no base64 line).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/crypto/random.h"
#include "base/crypto/secret_box.h"
#include "base/result.h"

namespace keystep {

struct InlineImage {
  std::string content_id;  // referenced from the HTML as "cid:<content_id>"; e.g. "qr@keystep"
  std::string png;         // the image's bytes
};

struct MailContent {
  std::string from;                        // "Display Name <addr@host>" or "addr@host"
  std::string to;                          // same forms
  std::string subject;                     // UTF-8
  std::string text_body;                   // UTF-8; always present (clients without HTML show it)
  // UTF-8, the content of <body>: the part is a document with lang="en" and the subject as
  // its <title>. When set, the text is its alternative.
  std::optional<std::string> html_body;
  std::vector<InlineImage> inline_images;  // need html_body
  int64_t date = 0;                        // seconds since the Unix epoch, written in UTC
  std::string message_id;                  // "<local@host>", e.g. from new_message_id()
};

// On success returns the complete message: headers Date, Message-ID, From, To, Subject,
// MIME-Version, then
//   text only:            text/plain
//   HTML, no images:      multipart/alternative(text/plain, text/html)
//   HTML and images:      multipart/alternative(text/plain,
//                             multipart/related(text/html, image/png…))
// Images carry Content-ID <content_id> and Content-Disposition: inline. Display names that
// are not printable ASCII or longer than 300 characters become encoded-words, so no line
// exceeds RFC 5322's 998 characters.
// On failure returns kInvalidArgument naming the field: a CR, LF or NUL in any header field
// (header injection), an address check_email_address refuses, a malformed message id or
// content id, inline images without an HTML body, a duplicate content id, or invalid UTF-8
// in the subject or a body.
Result<std::string> build_message(const MailContent& content);

// The one check of an email address, wherever one comes in (user create, invitations,
// signup, login, every recipient of a message): an ASCII addr-spec, local@domain, where
// - the local part is a dot-atom (RFC 5322 atext separated by single dots) of 1-64 octets,
// - the domain is dot-separated labels of letters, digits and '-' (not first or last), each
//   1-63 octets, no trailing dot,
// - the whole is at most 254 octets (RFC 5321 §4.5.3.1: a path of 256 with its "<>").
// No quoted local parts, domain literals, comments or internationalized (UTF-8) addresses:
// SMTP without SMTPUTF8 cannot carry them. kInvalidArgument with a sentence saying why.
Status check_email_address(std::string_view address);

// The address part of "Name <addr@host>" or "addr@host" (the SMTP envelope needs it bare).
// kInvalidArgument if the address fails check_email_address.
Result<std::string> mailbox_address(std::string_view mailbox);

// Encodes a header value as RFC 2047 encoded-words (UTF-8, base64), folded so no line of
// the header exceeds 78 characters; returns printable ASCII unchanged. `value` must be
// valid UTF-8 without CR, LF or NUL (build_message checks; this asserts nothing).
std::string encode_header_value(std::string_view value);

// Messages are sealed at rest: a setup email carries the member's TOTP secret, so the outbox
// keeps kSealedMimePrefix + base64(AES-256-GCM of the message), bound to its dedupe key.
inline constexpr std::string_view kSealedMimePrefix = "sealed:v1:";
Result<std::string> seal_mime(const SecretBox& box, Random& random, std::string_view mime,
                              std::string_view dedupe_key);
// The message to deliver: a sealed one opened (kDenied under another key or when it was
// moved to another dedupe key), anything else as it is (messages queued unsealed).
Result<std::string> open_mime(const SecretBox& box, std::string_view stored,
                              std::string_view dedupe_key);

// "<random@host>" with 16 random bytes, unique across processes and hosts.
Result<std::string> new_message_id(Random& random, std::string_view host);

// RFC 5322 date-time in UTC, e.g. "Tue, 14 Nov 2023 22:13:20 +0000".
std::string rfc5322_date(int64_t unix_seconds);

// base64 (RFC 4648 §4) in lines of at most 76 characters, each ending in CRLF.
std::string base64_lines(std::string_view data);

}  // namespace keystep
