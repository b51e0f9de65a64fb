# Writes OUTPUT, a C++ source defining sb::http::console_assets() with every
# file under DIR (the operator console, console/), so the server serves its
# own web page without reading files at run time. Each file is embedded as a
# raw string; its content type follows from its name. Flat: the server
# serves /console/<file>, one path segment.
file(GLOB _files LIST_DIRECTORIES false RELATIVE "${DIR}" "${DIR}/*")
list(SORT _files)
set(_body "")
set(_delim "sb_console_asset")
foreach(_name IN LISTS _files)
  if(_name MATCHES "\\.html$")
    set(_type "text/html; charset=utf-8")
  elseif(_name MATCHES "\\.js$")
    set(_type "text/javascript; charset=utf-8")
  elseif(_name MATCHES "\\.css$")
    set(_type "text/css; charset=utf-8")
  elseif(_name MATCHES "\\.svg$")
    set(_type "image/svg+xml")
  elseif(_name MATCHES "\\.json$")
    set(_type "application/json")
  else()
    message(FATAL_ERROR "console/${_name}: no content type for this kind of file")
  endif()
  file(READ "${DIR}/${_name}" _text)
  string(FIND "${_text}" ")${_delim}" _clash)
  if(NOT _clash EQUAL -1)
    message(FATAL_ERROR "console/${_name} contains the raw-string delimiter )${_delim}")
  endif()
  string(APPEND _body
    "      {\"${_name}\", \"${_type}\",\n"
    "       R\"${_delim}(${_text})${_delim}\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from console/ by http/console_embed.cmake.\n"
  "#include \"http/console.hpp\"\n\n"
  "namespace sb::http {\n\n"
  "const std::vector<console_asset>& console_assets() {\n"
  "  static const std::vector<console_asset> assets{\n"
  "${_body}"
  "  };\n"
  "  return assets;\n"
  "}\n\n"
  "} // namespace sb::http\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
