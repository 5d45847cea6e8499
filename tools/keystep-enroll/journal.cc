#include "tools/keystep-enroll/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>
#include <utility>
#include <vector>

#include "tools/keystep-enroll/csv.h"

namespace keystep::enroll {
namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string field; std::getline(in, field, '\t');) fields.push_back(field);
  return fields;
}

}  // namespace

Result<Journal> Journal::open(const std::string& path) {
  std::map<std::string, Entry> last;
  if (::access(path.c_str(), F_OK) == 0) {
    auto text = read_text_file(path);
    if (!text) return text.error();
    std::istringstream lines(*text);
    size_t number = 0;
    for (std::string line; std::getline(lines, line);) {
      ++number;
      if (line.empty()) continue;
      const auto fields = split_tabs(line);
      const bool known = fields.size() >= 3 &&
                         (fields[0] == "pending" || fields[0] == "done" || fields[0] == "cleared");
      int64_t credential = 0;
      if (known) {
        const auto& id = fields[2];
        const auto parsed = std::from_chars(id.data(), id.data() + id.size(), credential);
        if (parsed.ec != std::errc() || parsed.ptr != id.data() + id.size()) credential = 0;
      }
      if (!known || credential <= 0)
        return make_error(ErrorCode::kInvalidArgument,
                          path + " line " + std::to_string(number) + " is not a journal record");
      last[email_key(fields[1])] = Entry{fields[0], credential};
    }
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(ErrorCode::kUnavailable,
                      "cannot open the journal " + path + ": " + std::strerror(errno));
  std::FILE* file = ::fdopen(fd, "a");
  if (!file) {
    ::close(fd);
    return make_error(ErrorCode::kUnavailable, "cannot open the journal " + path);
  }
  Journal journal(path, file);
  journal.last_ = std::move(last);
  return journal;
}

Journal::Journal(Journal&& other) noexcept
    : path_(std::move(other.path_)),
      file_(std::exchange(other.file_, nullptr)),
      last_(std::move(other.last_)) {}

Journal::~Journal() {
  if (file_) std::fclose(file_);
}

bool Journal::done(const std::string& email) const {
  auto it = last_.find(email_key(email));
  return it != last_.end() && it->second.state == "done";
}

std::optional<int64_t> Journal::pending(const std::string& email) const {
  auto it = last_.find(email_key(email));
  if (it == last_.end() || it->second.state != "pending") return std::nullopt;
  return it->second.credential;
}

Status Journal::append(const std::string& state, const std::string& email, int64_t credential,
                       const std::string& extra) {
  const std::string line = state + "\t" + email + "\t" + std::to_string(credential) + extra + "\n";
  // Each record reaches the disk before the step it records goes on, so a crash right after
  // it still finds it.
  if (std::fputs(line.c_str(), file_) < 0 || std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0)
    return make_error(ErrorCode::kUnavailable,
                      "cannot write the journal " + path_ + ": " + std::strerror(errno));
  last_[email_key(email)] = Entry{state, credential};
  return {};
}

Status Journal::record_pending(const std::string& email, int64_t credential) {
  return append("pending", email, credential, "");
}

Status Journal::record_done(const std::string& email, int64_t credential,
                            const std::optional<uint32_t>& serial) {
  return append("done", email, credential, "\t" + (serial ? std::to_string(*serial) : ""));
}

Status Journal::record_cleared(const std::string& email, int64_t credential) {
  return append("cleared", email, credential, "");
}

}  // namespace keystep::enroll
