#pragma once
// keystep-enroll yubikey --batch: one key per member of a CSV file, in order, with a journal
// so that an interrupted batch can simply be run again.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "tools/keystep-enroll/enroll.h"
#include "tools/keystep-enroll/journal.h"

namespace keystep::enroll {

struct BatchRow {
  size_t line = 0;
  std::string email;
  std::string label;  // empty: "YubiKey SERIAL"
};

// Rows "EMAIL[,LABEL]" (csv.h's dialect); a first row "email,…" is a header. On failure
// kInvalidArgument naming the line (no email, too many fields, a duplicate member).
Result<std::vector<BatchRow>> parse_batch(std::string_view text);

struct BatchSummary {
  size_t registered = 0;
  size_t skipped = 0;  // done by an earlier run, per the journal
  size_t failed = 0;
  bool stopped = false;  // the operator ended the input, or the token was refused
  bool ok() const { return failed == 0 && !stopped; }
};

// Enrolls each row's member with a key the operator inserts when asked, saying one progress
// line per row and a summary at the end. Members the journal has done are skipped; a
// credential the journal has pending (an earlier run stopped between begin and confirm) is
// removed first. A row that fails is reported and the batch goes on; an unusable token (401,
// 403) or the end of the operator's input stops it.
BatchSummary run_batch(const std::vector<BatchRow>& rows, Journal& journal, AdminClient& api,
                       const DeviceOpener& open_device, Operator& op, const KeyOptions& options);

}  // namespace keystep::enroll
