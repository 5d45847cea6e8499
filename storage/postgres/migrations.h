#pragma once
// The PostgreSQL schema's numbered migrations, embedded at build time from
// migrations/NNN_name.sql (storage/sqlite/embed_migrations.cmake).

#include <string_view>
#include <vector>

namespace keystep::postgres {

struct Migration {
  int version;            // NNN from the file name; applied in increasing order, once each
  std::string_view name;  // file name without extension
  std::string_view sql;
};

extern const std::vector<Migration> kMigrations;

}  // namespace keystep::postgres
