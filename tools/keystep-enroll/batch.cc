#include "tools/keystep-enroll/batch.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "tools/keystep-enroll/csv.h"

namespace keystep::enroll {
namespace {}  // namespace

Result<std::vector<BatchRow>> parse_batch(std::string_view text) {
  auto csv = parse_csv(text);
  if (!csv) return csv.error();
  std::vector<BatchRow> rows;
  std::set<std::string> seen;
  for (const auto& row : *csv) {
    const std::string where = "line " + std::to_string(row.line) + ": ";
    if (&row == &csv->front() && email_key(row.fields[0]) == "email") continue;
    if (row.fields.size() > 2)
      return make_error(ErrorCode::kInvalidArgument, where + "expected EMAIL[,LABEL]");
    const std::string& email = row.fields[0];
    if (email.find('@') == std::string::npos)
      return make_error(ErrorCode::kInvalidArgument, where + "'" + email + "' is not an email");
    if (!seen.insert(email_key(email)).second)
      return make_error(ErrorCode::kInvalidArgument, where + email + " is listed twice");
    rows.push_back({row.line, email, row.fields.size() > 1 ? row.fields[1] : ""});
  }
  if (rows.empty())
    return make_error(ErrorCode::kInvalidArgument, "the batch file lists no member");
  return rows;
}

BatchSummary run_batch(const std::vector<BatchRow>& rows, Journal& journal, AdminClient& api,
                       const DeviceOpener& open_device, Operator& op, const KeyOptions& options) {
  BatchSummary summary;
  const std::string total = std::to_string(rows.size());
  auto members = api.members();
  if (!members) {
    op.say("Stopped: " + members.error().message);
    summary.stopped = true;
    return summary;
  }
  for (size_t i = 0; i < rows.size() && !summary.stopped; ++i) {
    const BatchRow& row = rows[i];
    const std::string head = "[" + std::to_string(i + 1) + "/" + total + "] " + row.email + ": ";
    if (journal.done(row.email)) {
      op.say(head + "skipped, done in an earlier run");
      ++summary.skipped;
      continue;
    }
    auto fail = [&](const Error& error) {
      op.say(head + "FAILED: " + error.message);
      ++summary.failed;
      if (refuses_every_request(error)) summary.stopped = true;
    };
    auto member = members->find(email_key(row.email));
    if (member == members->end()) {
      fail(make_error(ErrorCode::kNotFound, "no such member in the account"));
      continue;
    }
    if (auto left = journal.pending(row.email)) {
      auto removed = api.remove(member->second, *left);
      if (!removed && removed.error().code != ErrorCode::kNotFound) {
        fail(removed.error());
        continue;
      }
      if (auto s = journal.record_cleared(row.email, *left); !s) {
        fail(s.error());
        continue;
      }
    }
    auto ready = op.ask(Operator::Ask::kInsertKey,
                        head + "insert this member's YubiKey (only it), then press Enter: ");
    if (!ready) {
      op.say(head + "stopped before this member (" + ready.error().message + ")");
      summary.stopped = true;
      break;
    }
    auto device = open_device();
    if (!device) {
      fail(device.error());
      continue;
    }
    KeyOptions key_options = options;
    key_options.label = row.label;
    auto enrolled = enroll_key(**device, api, op, member->second, key_options,
                               [&](int64_t id) { return journal.record_pending(row.email, id); });
    if (!enrolled) {
      fail(enrolled.error());
      continue;
    }
    if (auto s = journal.record_done(row.email, enrolled->credential, enrolled->serial); !s) {
      fail(s.error());
      continue;
    }
    ++summary.registered;
    op.say(head + "registered " +
           (enrolled->serial ? "YubiKey " + std::to_string(*enrolled->serial) : "the key") +
           " as credential " + std::to_string(enrolled->credential) + "; remove the key");
  }
  op.say(count_of(rows.size(), "member") + ": " + std::to_string(summary.registered) +
         " registered, " + std::to_string(summary.skipped) + " skipped (done earlier), " +
         std::to_string(summary.failed) + " failed" +
         (summary.stopped ? "; stopped early: run the same command again to go on" : ""));
  return summary;
}

}  // namespace keystep::enroll
