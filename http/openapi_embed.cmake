# Writes OUTPUT, a C++ source defining sb::http::openapi_document() with the
# text of INPUT (docs/openapi.yaml), so the server serves its own spec.
file(READ "${INPUT}" _text)
set(_delim "sb_openapi_yaml")
string(FIND "${_text}" ")${_delim}" _clash)
if(NOT _clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )${_delim}")
endif()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from docs/openapi.yaml by http/openapi_embed.cmake.\n"
  "#include \"http/openapi.hpp\"\n\n"
  "namespace sb::http {\n\n"
  "std::string_view openapi_document() noexcept {\n"
  "  static constexpr std::string_view text = R\"${_delim}(${_text})${_delim}\";\n"
  "  return text;\n"
  "}\n\n"
  "} // namespace sb::http\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
