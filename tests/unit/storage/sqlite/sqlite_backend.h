#pragma once
// SqliteStore as a backend of the store conformance suite: a database file in a temporary
// directory per test, opened with SqliteStore::open; the hooks run SQL on a connection of
// their own.

#include <memory>

#include "tests/unit/idp/store/store_backend.h"

namespace keystep::storetest {

std::unique_ptr<StoreBackend> make_sqlite_backend();

}  // namespace keystep::storetest
