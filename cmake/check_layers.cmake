# Fails when a production source includes a header from a layer above its own.
#
#   cmake -DSOURCE_DIR=<repo> [-DFILES=<a;b>] -P cmake/check_layers.cmake
#
# Layers, lowest first; a file may include its own layer and the ones below.
# actors/ and http/ share a rank but may not include each other: HTTP reaches
# actors only through messages/, and actors know nothing of HTTP.
# FILES limits the check to those files (the test that proves the check bites
# passes a file with an upward include).
set(layers core messages config domain adapters actors http app)
set(rank_core 0)
set(rank_messages 1)
set(rank_config 2)
set(rank_domain 3)
set(rank_adapters 4)
set(rank_actors 5)
set(rank_http 5)
set(rank_app 6)

if(NOT FILES)
  set(FILES "")
  foreach(layer IN LISTS layers)
    file(GLOB_RECURSE found "${SOURCE_DIR}/${layer}/*.hpp" "${SOURCE_DIR}/${layer}/*.cpp")
    list(APPEND FILES ${found})
  endforeach()
endif()

set(violations "")
foreach(path IN LISTS FILES)
  file(RELATIVE_PATH rel "${SOURCE_DIR}" "${path}")
  string(REGEX MATCH "^[a-z]+" own "${rel}")
  if(NOT DEFINED rank_${own})
    continue()
  endif()
  file(STRINGS "${path}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"[a-z]+/")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([a-z]+)/.*" "\\1" target "${line}")
    if(NOT DEFINED rank_${target})
      continue()
    endif()
    set(bad FALSE)
    if(rank_${target} GREATER rank_${own})
      set(bad TRUE)
    elseif(rank_${target} EQUAL rank_${own} AND NOT target STREQUAL own)
      set(bad TRUE)
    endif()
    if(bad)
      string(STRIP "${line}" line)
      list(APPEND violations "${rel}: ${line} (${own}/ may not include ${target}/)")
    endif()
  endforeach()
endforeach()

if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "includes that point up a layer:\n  ${text}")
endif()
