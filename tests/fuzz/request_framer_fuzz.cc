// The HTTP/1.1 request framer (http/request_framer.h), which splits every connection's bytes
// into requests before Pistache's parser sees them: request smuggling lives or dies here.
//
// Input: the bytes a client sends on one connection; the first byte picks where the stream
// is cut into two reads. Properties:
//  - no exception; the framing does not depend on where TCP cut the stream: fed whole or in
//    two reads, the same requests come out (same bytes, same request line) with the same
//    verdict;
//  - every request handed on starts with its own method and target, and no header line of
//    it is named Cookie (the framer renames it for cookie_value; Pistache's parser threw);
//  - no request handed on is larger than max_request_bytes (plus what renaming Cookie adds);
//  - after kTooLarge or kBadRequest the framer stays there and hands on nothing more.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_framer.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using keystep::http::RequestFramer;

constexpr size_t kMaxRequestBytes = 2048;  // small, so the fuzzer reaches kTooLarge

struct Framed {
  std::vector<std::string> requests;  // the bytes of each completed request
  std::vector<std::string> lines;     // "METHOD target" of each (the method alone without one)
  std::string partial;                // bytes of a request not completed yet
  RequestFramer::Verdict verdict = RequestFramer::Verdict::kMore;
};

void collect(const std::vector<RequestFramer::Piece>& pieces, Framed& out) {
  for (const auto& piece : pieces) {
    if (piece.starts) FUZZ_CHECK(out.partial.empty());
    out.partial += piece.bytes;
    if (piece.completes) {
      out.requests.push_back(out.partial);
      // A request line without a target ("G") is handed on for Pistache to refuse with 400.
      out.lines.push_back(piece.head.target.empty() ? piece.head.method
                                                    : piece.head.method + " " + piece.head.target);
      out.partial.clear();
    }
  }
}

Framed frame(std::string_view input, size_t cut) {
  RequestFramer framer(kMaxRequestBytes);
  Framed out;
  for (std::string_view read : {input.substr(0, cut), input.substr(cut)}) {
    std::vector<RequestFramer::Piece> pieces;
    out.verdict = framer.feed(read, pieces);
    collect(pieces, out);
    if (out.verdict != RequestFramer::Verdict::kMore) break;
  }
  if (out.verdict != RequestFramer::Verdict::kMore) {
    std::vector<RequestFramer::Piece> more;
    FUZZ_CHECK(framer.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n", more) == out.verdict);
    FUZZ_CHECK(more.empty());
  }
  return out;
}

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

void check_request(const std::string& bytes, const std::string& line) {
  FUZZ_CHECK(bytes.rfind(line, 0) == 0);
  size_t renamed = 0;
  const size_t end = bytes.find("\r\n\r\n");
  FUZZ_CHECK(end != std::string::npos);
  size_t at = bytes.find("\r\n") + 2;
  while (at < end) {
    const size_t eol = bytes.find("\r\n", at);
    const std::string_view header(bytes.data() + at, eol - at);
    const size_t colon = header.find(':');
    if (colon != std::string_view::npos) {
      FUZZ_CHECK(!ieq(header.substr(0, colon), "cookie"));
      if (header.substr(0, colon) == keystep::http::kCookieHeader) ++renamed;
    }
    at = eol + 2;
  }
  const size_t longer = std::string_view(keystep::http::kCookieHeader).size() - 6;
  FUZZ_CHECK(bytes.size() <= kMaxRequestBytes + renamed * longer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input = keystep::fuzz::as_text(data + 1, size - 1);
  const size_t cut = input.empty() ? 0 : data[0] % (input.size() + 1);
  const Framed whole = frame(input, input.size());
  const Framed split = frame(input, cut);
  FUZZ_CHECK(whole.verdict == split.verdict);
  FUZZ_CHECK(whole.requests == split.requests);
  FUZZ_CHECK(whole.lines == split.lines);
  for (size_t i = 0; i < whole.requests.size(); ++i)
    check_request(whole.requests[i], whole.lines[i]);
  return 0;
}
