// RequestFramer and cookie_value on their own (no server): where requests begin and end,
// what is handed on, and what is refused.

#include "http/request_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keystep::http {
namespace {

using Verdict = RequestFramer::Verdict;

struct Framed {
  Verdict verdict = Verdict::kMore;
  std::vector<RequestFramer::Piece> pieces;
  // The bytes handed on for each complete request, and for an incomplete last one.
  std::vector<std::string> requests() const {
    std::vector<std::string> out(1);
    for (const auto& piece : pieces) {
      out.back() += piece.bytes;
      if (piece.completes) out.emplace_back();
    }
    if (out.back().empty()) out.pop_back();
    return out;
  }
};

// Feeds `input` in slices of `slice` bytes (0: at once).
Framed frame(const std::string& input, size_t slice = 0, size_t limit = 4096) {
  RequestFramer framer(limit);
  Framed framed;
  if (slice == 0) slice = input.size() + 1;
  for (size_t at = 0; at < input.size() && framed.verdict == Verdict::kMore; at += slice) {
    framed.verdict = framer.feed(std::string_view(input).substr(at, slice), framed.pieces);
  }
  return framed;
}

const std::string kGet = "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
const std::string kPost = "POST /token HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde";
const std::string kChunked =
    "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0;x\r\n"
    "Trailer-Field: 1\r\n\r\n";
// kChunked as handed on: no chunk extension, no trailer field.
const std::string kChunkedOut =
    "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";

TEST(RequestFramer, SplitsPipelinedRequestsWhereverTheReadsEnd) {
  const std::string stream = kGet + kPost + kChunked + kGet;
  for (size_t slice : {0, 1, 2, 3, 7, 64}) {
    Framed framed = frame(stream, slice);
    EXPECT_EQ(framed.verdict, Verdict::kMore) << slice;
    EXPECT_EQ(framed.requests(), (std::vector<std::string>{kGet, kPost, kChunkedOut, kGet}))
        << "slice " << slice;
  }
}

TEST(RequestFramer, EveryPieceNamesItsRequest) {
  Framed framed = frame(kPost + kGet);
  ASSERT_EQ(framed.pieces.size(), 2u);
  EXPECT_TRUE(framed.pieces[0].starts);
  EXPECT_TRUE(framed.pieces[1].starts);
  EXPECT_EQ(framed.pieces[0].head.method, "POST");
  EXPECT_EQ(framed.pieces[0].head.target, "/token");
  EXPECT_TRUE(framed.pieces[0].completes);
  EXPECT_EQ(framed.pieces[1].head.method, "GET");
  EXPECT_EQ(framed.pieces[1].head.target, "/a?x=1");
}

TEST(RequestFramer, HandsOnOnlyCompleteLinesAndBodyBytesAsTheyCome) {
  RequestFramer framer(4096);
  std::vector<RequestFramer::Piece> out;
  EXPECT_EQ(framer.feed("POST /t HTTP/1.1\r\nContent-Le", out), Verdict::kMore);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, "POST /t HTTP/1.1\r\n");
  EXPECT_FALSE(out[0].completes);
  out.clear();
  EXPECT_EQ(framer.feed("ngth: 4\r\n\r\nab", out), Verdict::kMore);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, "Content-Length: 4\r\n\r\nab");
  EXPECT_FALSE(out[0].starts);
  EXPECT_FALSE(out[0].completes);
  out.clear();
  EXPECT_EQ(framer.feed("cd", out), Verdict::kMore);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].completes);
}

TEST(RequestFramer, DropsEmptyLinesBeforeARequest) {
  EXPECT_EQ(frame("\r\n\r\n" + kGet).requests(), std::vector<std::string>{kGet});
  EXPECT_EQ(frame(kPost + "\r\n" + kGet).requests(), (std::vector<std::string>{kPost, kGet}));
}

TEST(RequestFramer, RenamesTheCookieHeaderAndDropsAClientsOwnInternalOne) {
  Framed framed = frame(
      "GET / HTTP/1.1\r\ncOOkie: tossed; ks_session=abc\r\nX-Keystep-Cookie: ks_session=evil\r\n"
      "\r\n");
  EXPECT_EQ(framed.requests(),
            std::vector<std::string>{
                "GET / HTTP/1.1\r\nX-Keystep-Cookie: tossed; ks_session=abc\r\n\r\n"});
}

TEST(RequestFramer, RefusesWhatCannotBeFramed) {
  for (const std::string& bad : {
           std::string("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"),
           std::string("GET / HTTP/1.1\nHost: a\n\n"),
       }) {
    EXPECT_EQ(frame(bad).verdict, Verdict::kBadRequest) << bad;
  }
}

TEST(RequestFramer, RefusesARequestOverTheLimitAndStaysRefused) {
  EXPECT_EQ(frame("POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 0, 4096).verdict,
            Verdict::kTooLarge);
  EXPECT_EQ(frame("GET /" + std::string(5000, 'a'), 0, 4096).verdict, Verdict::kTooLarge);
  EXPECT_EQ(frame("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                      std::string(2, 'f') + "00\r\n",
                  0, 4096)
                .verdict,
            Verdict::kTooLarge);
  // Each request has its own budget.
  const std::string body(3000, 'b');
  const std::string post = "POST / HTTP/1.1\r\nContent-Length: 3000\r\n\r\n" + body;
  EXPECT_EQ(frame(post + post + post, 512, 4096).verdict, Verdict::kMore);

  RequestFramer framer(64);
  std::vector<RequestFramer::Piece> out;
  EXPECT_EQ(framer.feed("GET /" + std::string(100, 'a'), out), Verdict::kTooLarge);
  EXPECT_EQ(framer.feed(kGet, out), Verdict::kTooLarge);
}

TEST(CookieValue, IgnoresMalformedPairsAndTakesTheFirstMatch) {
  EXPECT_EQ(cookie_value("a=1; b=2", "b"), "2");
  EXPECT_EQ(cookie_value("tossed; b=2; b=3", "b"), "2");
  EXPECT_EQ(cookie_value("  b = 2 ;", "b"), "2");
  EXPECT_EQ(cookie_value("b=", "b"), "");
  EXPECT_EQ(cookie_value("b=x=y", "b"), "x=y");
  EXPECT_EQ(cookie_value("ab=1; =2; ;;", "b"), std::nullopt);
  EXPECT_EQ(cookie_value("b", "b"), std::nullopt);
  EXPECT_EQ(cookie_value("", "b"), std::nullopt);
}

}  // namespace
}  // namespace keystep::http
