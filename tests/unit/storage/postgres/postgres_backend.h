#pragma once
// PostgresStore as a backend of the store conformance suite: a fresh database (a schema) per
// test on the process's PostgreSQL test server (tests/support/postgres), opened with
// PostgresStore::open; the hooks run SQL on a connection of their own.

#include <memory>

#include "tests/unit/idp/store/store_backend.h"

namespace keystep::storetest {

std::unique_ptr<StoreBackend> make_postgres_backend();

}  // namespace keystep::storetest
