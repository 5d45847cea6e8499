# Writes OUT: a C++ file defining keystep::sqlite::kMigrations from the .sql FILES, in order.
# A file's number (NNN_ prefix) is its schema version.
set(body "#include \"storage/sqlite/migrations.h\"\n\nnamespace keystep::sqlite {\n\nconst std::vector<Migration> kMigrations = {\n")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME_WE)
  string(REGEX MATCH "^[0-9]+" num ${name})
  math(EXPR version "${num}")
  file(READ ${f} sql)
  set(body "${body}    {${version}, \"${name}\", R\"__sql__(${sql})__sql__\"},\n")
endforeach()
set(body "${body}};\n\n}  // namespace keystep::sqlite\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
