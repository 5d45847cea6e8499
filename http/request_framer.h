#pragma once
// Finds where each HTTP/1.1 request on a connection begins and ends, before Pistache 0.0.5's
// parser sees the bytes. That parser discards whatever follows a complete request in the same
// read (a pipelined second request was silently dropped) and throws on a Cookie header
// without '=' (500 on every page for a tossed cookie). The framer hands the bytes on request
// by request, complete lines at a time, unchanged except that:
//  - empty lines before a request line are dropped (RFC 9112 §2.2);
//  - chunk extensions and trailer fields of a chunked body are dropped (Pistache's parser
//    refuses the first and stops before the second);
//  - the Cookie header is renamed kCookieHeader, which Pistache keeps as an unparsed header
//    (read it with cookie_value()), and a client's own kCookieHeader line is dropped.
// Bodies are framed by Content-Length or chunked Transfer-Encoding (RFC 9112 §6). Not
// thread-safe: one framer per connection, used by that connection's thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keystep::http {

// The name the Cookie header travels under from the framer to the handlers.
inline constexpr const char* kCookieHeader = "X-Keystep-Cookie";

// The value of the first cookie `name` in a Cookie header value, or nullopt. Pairs without
// '=' and empty names are skipped (RFC 6265 §5.4 is lenient for the sender's mistakes too).
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);

struct RequestHead {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // the request target as sent, e.g. "/authorize?client_id=x"
};

class RequestFramer {
 public:
  // A request larger than max_request_bytes (request line, headers, body and chunk framing)
  // is refused.
  explicit RequestFramer(size_t max_request_bytes);

  // Bytes to hand on, all of one request.
  struct Piece {
    std::string bytes;
    RequestHead head;        // the request these bytes belong to
    bool starts = false;     // the first bytes of the request
    bool completes = false;  // the last bytes of the request
  };
  enum class Verdict {
    kMore,        // everything consumed; the pieces so far are good
    kTooLarge,    // the request after the last piece exceeds max_request_bytes
    kBadRequest,  // it cannot be framed: bad or conflicting Content-Length, an unsupported
                  // Transfer-Encoding, both, or a bad chunk
  };
  // Consumes `input`, appending to `out` the pieces to hand on in order. After kTooLarge or
  // kBadRequest the framer stays in that state and the connection must be refused.
  Verdict feed(std::string_view input, std::vector<Piece>& out);

 private:
  enum class State {
    kRequestLine,
    kHeaders,
    kBody,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kFailed
  };
  // Handles one complete line (without its CRLF); false when the request cannot be framed.
  bool on_line(std::string_view line, std::vector<Piece>& out);
  bool on_header(std::string_view line, std::vector<Piece>& out);
  bool end_of_headers(std::vector<Piece>& out);
  void emit(std::string_view bytes, bool completes, std::vector<Piece>& out);
  void finish_request();

  size_t max_request_bytes_;
  State state_ = State::kRequestLine;
  Verdict failure_ = Verdict::kMore;
  std::string line_;       // a line being received
  size_t request_bytes_ = 0;
  RequestHead head_;
  std::optional<uint64_t> content_length_;
  bool chunked_ = false;
  bool transfer_encoding_ = false;
  uint64_t remaining_ = 0;  // body or chunk bytes still to come
};

}  // namespace keystep::http
