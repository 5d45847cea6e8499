// The batch's input file and its journal (the batch itself runs against a real server in
// tests/http/enroll_tool_test.cc).
#include "tools/keystep-enroll/batch.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/unit/test_util.h"
#include "tools/keystep-enroll/csv.h"
#include "tools/keystep-enroll/journal.h"

namespace keystep::enroll {
namespace {

using testutil::Fails;
using testutil::Ok;
using testutil::TempDir;

TEST(BatchFile, ReadsEmailsAndLabelsAfterAnOptionalHeader) {
  auto rows = parse_batch(
      "email,label\n# the first floor\nalice@example.com\n"
      "bob@example.com, \"Bob's key, blue\"\n");
  ASSERT_TRUE(Ok(rows));
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].email, "alice@example.com");
  EXPECT_EQ((*rows)[0].label, "");
  EXPECT_EQ((*rows)[1].label, "Bob's key, blue");
  EXPECT_EQ((*rows)[1].line, 4u);
}

TEST(BatchFile, RefusesBadRows) {
  EXPECT_TRUE(Fails(parse_batch("alice\n"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(parse_batch("a@x,l,extra\n"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(parse_batch("a@x\nA@X\n"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(Fails(parse_batch("# nobody\n"), ErrorCode::kInvalidArgument));
  auto quote = parse_batch("a@x,\"open\n");
  ASSERT_TRUE(Fails(quote, ErrorCode::kInvalidArgument));
  EXPECT_EQ(quote.error().message, "line 1: a quote is not closed");
}

TEST(Journal, RemembersDoneAndPendingAcrossRuns) {
  TempDir dir;
  const std::string path = dir.file("batch.journal");
  {
    auto journal = Journal::open(path);
    ASSERT_TRUE(Ok(journal));
    ASSERT_TRUE(Ok(journal->record_pending("Alice@example.com", 7)));
    ASSERT_TRUE(Ok(journal->record_done("alice@example.com", 7, 12345678u)));
    ASSERT_TRUE(Ok(journal->record_pending("bob@example.com", 8)));
    ASSERT_TRUE(Ok(journal->record_pending("carol@example.com", 9)));
    ASSERT_TRUE(Ok(journal->record_cleared("carol@example.com", 9)));
  }
  auto journal = Journal::open(path);
  ASSERT_TRUE(Ok(journal));
  EXPECT_TRUE(journal->done("ALICE@example.com"));
  EXPECT_FALSE(journal->pending("alice@example.com"));
  EXPECT_FALSE(journal->done("bob@example.com"));
  EXPECT_EQ(journal->pending("bob@example.com"), 8);
  EXPECT_FALSE(journal->pending("carol@example.com"));
  EXPECT_FALSE(journal->done("dave@example.com"));
  auto text = read_text_file(path);
  ASSERT_TRUE(Ok(text));
  EXPECT_NE(text->find("done\talice@example.com\t7\t12345678\n"), std::string::npos);
}

TEST(Journal, RefusesAFileThatIsNotAJournal) {
  TempDir dir;
  const std::string path = dir.file("users.csv");
  std::ofstream(path) << "alice@example.com\n";
  EXPECT_TRUE(Fails(Journal::open(path), ErrorCode::kInvalidArgument));
}

}  // namespace
}  // namespace keystep::enroll
