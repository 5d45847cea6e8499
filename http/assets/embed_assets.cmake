# Writes OUT: a C++ file defining keystep::http::asset() over the FILES of http/assets/, each
# served at /assets/<file name> (http/assets.h).
set(body "#include \"http/assets.h\"\n\nnamespace keystep::http {\n\nconst Asset* asset(std::string_view path) {\n  static const Asset kAssets[] = {\n")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME)
  file(READ ${f} text)
  set(body "${body}      {\"/assets/${name}\", \"text/javascript; charset=utf-8\", R\"__asset__(${text})__asset__\"},\n")
endforeach()
set(body "${body}  };\n  for (const Asset& a : kAssets)\n    if (a.path == path) return &a;\n  return nullptr;\n}\n\n}  // namespace keystep::http\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
