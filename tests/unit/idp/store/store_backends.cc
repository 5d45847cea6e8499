#include "tests/unit/idp/store/store_backend.h"
#include "tests/unit/storage/postgres/postgres_backend.h"
#include "tests/unit/storage/sqlite/sqlite_backend.h"

namespace keystep::storetest {

std::vector<BackendParam> store_backends() { return {{"Sqlite", &make_sqlite_backend}, {"Postgres", &make_postgres_backend}}; }

}  // namespace keystep::storetest
