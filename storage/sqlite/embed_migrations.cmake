# Writes OUT: a C++ file defining keystep::STORE::kMigrations (declared in
# storage/STORE/migrations.h) from the .sql FILES, in order. STORE is sqlite or postgres. A
# file's number (NNN_ prefix) is its schema version.
set(body "#include \"storage/${STORE}/migrations.h\"\n\nnamespace keystep::${STORE} {\n\nconst std::vector<Migration> kMigrations = {\n")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME_WE)
  string(REGEX MATCH "^[0-9]+" num ${name})
  math(EXPR version "${num}")
  file(READ ${f} sql)
  set(body "${body}    {${version}, \"${name}\", R\"__sql__(${sql})__sql__\"},\n")
endforeach()
set(body "${body}};\n\n}  // namespace keystep::${STORE}\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
