#pragma once
// The journal of a batch enrollment: one line appended (and flushed to disk) per step, so a
// batch that was interrupted can be run again: members done are skipped, and a credential
// left pending by the interrupted run is removed before the member's key is programmed
// again. The file is text, one record per line:
//   pending<TAB>EMAIL<TAB>CREDENTIAL_ID          a credential was begun
//   done<TAB>EMAIL<TAB>CREDENTIAL_ID<TAB>SERIAL  the key is programmed and confirmed
//   cleared<TAB>EMAIL<TAB>CREDENTIAL_ID          a pending one was removed
// The last record of a member counts. Emails compare case-insensitively.

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "base/result.h"

namespace keystep::enroll {

class Journal {
 public:
  // Reads `path` if it exists and opens it for appending (creating it, mode 0600). On
  // failure kInvalidArgument for a line that is not a record, kUnavailable when the file
  // cannot be opened.
  static Result<Journal> open(const std::string& path);
  Journal(Journal&& other) noexcept;
  Journal& operator=(Journal&&) = delete;
  ~Journal();

  bool done(const std::string& email) const;
  // The credential a run began for `email` and did not finish, if any.
  std::optional<int64_t> pending(const std::string& email) const;

  Status record_pending(const std::string& email, int64_t credential);
  Status record_done(const std::string& email, int64_t credential,
                     const std::optional<uint32_t>& serial);
  Status record_cleared(const std::string& email, int64_t credential);

 private:
  struct Entry {
    std::string state;
    int64_t credential = 0;
  };
  Journal(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  Status append(const std::string& state, const std::string& email, int64_t credential,
                const std::string& extra);

  std::string path_;
  std::FILE* file_;
  std::map<std::string, Entry> last_;  // lower-cased email -> its last record
};

}  // namespace keystep::enroll
