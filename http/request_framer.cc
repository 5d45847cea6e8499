#include "http/request_framer.h"

#include <algorithm>

namespace keystep::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal (Content-Length) or hexadecimal (chunk size) digits, at most 15 of them (far
// beyond any size we accept, and never overflowing).
std::optional<uint64_t> parse_size(std::string_view digits, int base) {
  if (digits.empty() || digits.size() > 15) return std::nullopt;
  uint64_t value = 0;
  for (char c : digits) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0) return std::nullopt;
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  return value;
}

}  // namespace

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t semicolon = header.find(';');
    const std::string_view pair = header.substr(0, semicolon);
    header = semicolon == std::string_view::npos ? std::string_view() : header.substr(semicolon + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = trim(pair.substr(0, eq));
    if (!key.empty() && key == name) return std::string(trim(pair.substr(eq + 1)));
  }
  return std::nullopt;
}

RequestFramer::RequestFramer(size_t max_request_bytes) : max_request_bytes_(max_request_bytes) {}

RequestFramer::Verdict RequestFramer::feed(std::string_view input, std::vector<Piece>& out) {
  const auto fail = [this](Verdict verdict) {
    state_ = State::kFailed;
    failure_ = verdict;
    return verdict;
  };
  while (!input.empty()) {
    if (state_ == State::kFailed) return failure_;
    if (state_ == State::kBody || state_ == State::kChunkData) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size()));
      request_bytes_ += n;
      if (request_bytes_ > max_request_bytes_) return fail(Verdict::kTooLarge);
      remaining_ -= n;
      const bool done = remaining_ == 0;
      if (state_ == State::kBody) {
        emit(input.substr(0, n), done, out);
        if (done) finish_request();
      } else {
        emit(input.substr(0, n), false, out);
        if (done) state_ = State::kChunkDataEnd;
      }
      input.remove_prefix(n);
      continue;
    }
    // Line-oriented states: collect up to and including the next LF.
    const size_t lf = input.find('\n');
    const size_t take = lf == std::string_view::npos ? input.size() : lf + 1;
    request_bytes_ += take;
    if (request_bytes_ > max_request_bytes_) return fail(Verdict::kTooLarge);
    line_.append(input.substr(0, take));
    input.remove_prefix(take);
    if (lf == std::string_view::npos) break;
    std::string line = std::move(line_);
    line_.clear();
    line.pop_back();  // LF
    if (line.empty() && state_ == State::kRequestLine) continue;  // a bare LF between requests
    if (line.empty() || line.back() != '\r') return fail(Verdict::kBadRequest);
    line.pop_back();  // CR
    if (!on_line(line, out)) return fail(Verdict::kBadRequest);
  }
  return state_ == State::kFailed ? failure_ : Verdict::kMore;
}

bool RequestFramer::on_line(std::string_view line, std::vector<Piece>& out) {
  switch (state_) {
    case State::kRequestLine: {
      if (line.empty()) return true;  // RFC 9112 §2.2: ignore empty lines before a request
      const size_t first = line.find(' ');
      const size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
      head_.method = std::string(line.substr(0, first));
      head_.target = first == std::string_view::npos
                         ? std::string()
                         : std::string(line.substr(first + 1, second - first - 1));
      content_length_.reset();
      chunked_ = false;
      transfer_encoding_ = false;
      state_ = State::kHeaders;
      emit(std::string(line) + "\r\n", false, out);
      out.back().starts = true;
      return true;
    }
    case State::kHeaders:
      return line.empty() ? end_of_headers(out) : on_header(line, out);
    case State::kChunkSize: {
      const std::string_view digits = trim(line.substr(0, line.find(';')));
      const auto size = parse_size(digits, 16);
      if (!size) return false;
      // Pistache's chunk parser refuses extensions and ends the request at the last chunk,
      // before the trailer section: hand on the bare size, and the last chunk with the
      // empty line that ends the trailers (which are dropped) as the request's last bytes.
      if (*size > 0) emit(std::string(digits) + "\r\n", false, out);
      remaining_ = *size;
      state_ = *size == 0 ? State::kTrailers : State::kChunkData;
      if (request_bytes_ + *size > max_request_bytes_) {
        state_ = State::kFailed;
        failure_ = Verdict::kTooLarge;
      }
      return true;
    }
    case State::kChunkDataEnd:
      if (!line.empty()) return false;
      emit("\r\n", false, out);
      state_ = State::kChunkSize;
      return true;
    case State::kTrailers:
      if (line.empty()) {
        emit("0\r\n\r\n", true, out);
        finish_request();
      }
      return true;
    case State::kBody:
    case State::kChunkData:
    case State::kFailed:
      break;
  }
  return false;
}

bool RequestFramer::on_header(std::string_view line, std::vector<Piece>& out) {
  if (line.front() == ' ' || line.front() == '\t') return false;  // obs-fold: RFC 9112 §5.2
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {  // not a field: Pistache's parser refuses it
    emit(std::string(line) + "\r\n", false, out);
    return true;
  }
  const std::string name = lower(line.substr(0, colon));
  const std::string_view value = trim(line.substr(colon + 1));
  if (name == lower(kCookieHeader)) return true;  // only the framer may send it
  if (name == "cookie") {
    emit(std::string(kCookieHeader) + std::string(line.substr(colon)) + "\r\n", false, out);
    return true;
  }
  if (name == "content-length") {
    const auto length = parse_size(value, 10);
    if (!length || (content_length_ && *content_length_ != *length)) return false;
    content_length_ = length;
  } else if (name == "transfer-encoding") {
    // Only a single "chunked" is supported; anything else cannot be framed.
    chunked_ = !transfer_encoding_ && lower(value) == "chunked";
    transfer_encoding_ = true;
  }
  emit(std::string(line) + "\r\n", false, out);
  return true;
}

bool RequestFramer::end_of_headers(std::vector<Piece>& out) {
  // RFC 9112 §6.1 and §6.3: Transfer-Encoding with Content-Length is a smuggling attempt.
  if (transfer_encoding_ && (!chunked_ || content_length_)) return false;
  const uint64_t length = content_length_.value_or(0);
  const bool no_body = !chunked_ && length == 0;
  emit("\r\n", no_body, out);
  if (no_body) {
    finish_request();
  } else if (chunked_) {
    state_ = State::kChunkSize;
  } else if (request_bytes_ + length > max_request_bytes_) {
    state_ = State::kFailed;  // refused before the body is sent
    failure_ = Verdict::kTooLarge;
  } else {
    remaining_ = length;
    state_ = State::kBody;
  }
  return true;
}

void RequestFramer::emit(std::string_view bytes, bool completes, std::vector<Piece>& out) {
  if (out.empty() || out.back().completes) {
    out.push_back(Piece{std::string(), head_, false});
  }
  out.back().bytes.append(bytes);
  out.back().completes = completes;
}

void RequestFramer::finish_request() {
  state_ = State::kRequestLine;
  request_bytes_ = 0;
  content_length_.reset();
  chunked_ = false;
  transfer_encoding_ = false;
}

}  // namespace keystep::http
