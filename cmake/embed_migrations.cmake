# Turns core/store/migrations/NNN_name.sql into a C table (see core/store/migrate.h).
set(body "/* generated from core/store/migrations by cmake/embed_migrations.cmake */\n#include \"store/migrate.h\"\n\nconst struct oh_migration oh_migrations[] = {\n")
string(REPLACE "|" ";" FILES "${FILES}")
foreach(f ${FILES})
  get_filename_component(base ${f} NAME_WE)
  string(REGEX MATCH "^[0-9]+" ver "${base}")
  string(REGEX REPLACE "^0+([0-9])" "\\1" ver "${ver}")  # 008 is not octal
  file(READ ${f} sql HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" sql "${sql}")
  string(APPEND body "    { ${ver}, \"${base}\", \"${sql}\" },\n")
endforeach()
string(APPEND body "    { 0, NULL, NULL }\n};\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
