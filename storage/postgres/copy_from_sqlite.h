#pragma once
// `keystep store copy`: moves an SQLite installation (DATA_DIR/keystep.db) into an empty
// PostgreSQL database, row for row: accounts, users, clients, credentials (secrets stay
// sealed as they are: both stores use the same master key), grants and tokens, signing keys,
// flows and sessions, consents, invitations and links, the audit log, pending mail and
// logout notices. Ids are kept, and each sequence continues past the highest id SQLite ever
// handed out, so no id is ever reused.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace keystep::postgres {

struct CopiedTable {
  std::string table;
  int64_t rows = 0;  // copied, and counted again in the target before committing
};

// Copies the SQLite database at `sqlite_path`, which the caller has brought to this binary's
// schema (SqliteStore::open migrates it, as `serve` would), into the PostgreSQL database at
// `url` (opened and migrated here). Every table in one
// PostgreSQL transaction from one SQLite snapshot. kConflict (nothing copied) when the target
// holds any row of those tables; kInternal when a table's count in the target differs from the
// source's after the copy (rolled back); a database's own errors otherwise. On success the
// tables with their row counts.
Result<std::vector<CopiedTable>> copy_from_sqlite(const std::string& sqlite_path,
                                                  const std::string& url);

}  // namespace keystep::postgres
