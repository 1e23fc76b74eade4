# ferry_add_idl(<target> [IDL] <file.idl|file.fbs>... [IMPORT_DIRS <dir>...] [OUT_DIR <dir>]
#               [FLATC_ARGS <arg>...])
#
# Makes <target> a static library holding the code ferryc generates for each schema:
# flatc's <stem>_generated.h (messages) and ferryc's <stem>.ferry.h/.ferry.cc (stubs and
# skeletons). Linking <target> gives the generated include dir and ferry::runtime.
#
# Every schema the listed ones include (transitively, looked for in the including schema's
# directory, then IMPORT_DIRS) is generated too, unless another ferry_add_idl target of the
# build already generates it: <target> then links that target instead, so no schema is ever
# generated twice. FLATC_ARGS go to flatc for every schema <target> generates (for example
# --gen-object-api or --gen-mutable); options that would move or rename flatc's header are
# refused by ferryc.
#
# Regenerates when a schema, or any file it includes (tracked through ferryc's depfile),
# changes; a change to a schema's includes re-runs CMake. Works in-tree (add_subdirectory)
# and installed (find_package(ferry)).

# The schemas `top` includes, transitively, each found the way ferryc finds it: in `top`'s
# directory, then in `dirs`. Absolute paths, in discovery order; `top` itself is left out.
# An include that is found nowhere is left to ferryc, which reports it with its location.
function(_ferry_included_schemas top dirs out_var)
  get_filename_component(top_dir "${top}" DIRECTORY)
  set(search "${top_dir}" ${dirs})
  set(found "")
  set(queue "${top}")
  while(queue)
    list(POP_FRONT queue file)
    file(STRINGS "${file}" lines REGEX "^[ \t]*include[ \t]+\"[^\"]+\"[ \t]*;")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*include[ \t]+\"([^\"]+)\".*" "\\1" name "${line}")
      foreach(dir IN LISTS search)
        if(EXISTS "${dir}/${name}" AND NOT IS_DIRECTORY "${dir}/${name}")
          get_filename_component(resolved "${dir}/${name}" ABSOLUTE)
          if(NOT resolved STREQUAL top AND NOT resolved IN_LIST found)
            list(APPEND found "${resolved}")
            list(APPEND queue "${resolved}")
          endif()
          break()
        endif()
      endforeach()
    endforeach()
  endwhile()
  set(${out_var} "${found}" PARENT_SCOPE)
endfunction()

# In ferry_add_idl: adds `schema` to its `schemas` (once), with the directory its includes are
# also looked in (empty: only its own and IMPORT_DIRS).
macro(_ferry_queue_schema schema extra_dir)
  if(NOT "${schema}" IN_LIST schemas)
    list(APPEND schemas "${schema}")
    string(MD5 _ferry_key "${schema}")
    set(extra_dir_${_ferry_key} "${extra_dir}")
  endif()
endmacro()

function(ferry_add_idl target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUT_DIR" "IDL;IMPORT_DIRS;FLATC_ARGS")
  set(listed ${ARG_IDL} ${ARG_UNPARSED_ARGUMENTS})
  if(NOT listed)
    message(FATAL_ERROR "ferry_add_idl(${target}): no .idl or .fbs files given")
  endif()
  if(NOT TARGET ferry::ferryc)
    message(FATAL_ERROR "ferry_add_idl(${target}): ferry::ferryc is not defined; "
                        "add_subdirectory(ferry) or find_package(ferry) first")
  endif()
  if(NOT ARG_OUT_DIR)
    set(ARG_OUT_DIR "${CMAKE_CURRENT_BINARY_DIR}/ferry_generated/${target}")
  endif()
  file(MAKE_DIRECTORY "${ARG_OUT_DIR}")

  set(import_dirs "")
  foreach(dir IN LISTS ARG_IMPORT_DIRS)
    get_filename_component(dir "${dir}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND import_dirs "${dir}")
  endforeach()
  set(flatc_flags "")
  foreach(arg IN LISTS ARG_FLATC_ARGS)
    list(APPEND flatc_flags "--flatc-arg=${arg}")
  endforeach()

  # What to generate: the listed schemas, then what they include. Each comes with the
  # directories its includes are looked for in (an included schema: also its includer's).
  set(schemas "")
  foreach(schema IN LISTS listed)
    get_filename_component(schema "${schema}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    if(NOT EXISTS "${schema}")
      message(FATAL_ERROR "ferry_add_idl(${target}): ${schema} does not exist")
    endif()
    if(NOT schema MATCHES "\\.(idl|fbs)$")
      message(FATAL_ERROR "ferry_add_idl(${target}): ${schema} is not an .idl or .fbs file")
    endif()
    _ferry_queue_schema("${schema}" "")
  endforeach()
  set(top_level ${schemas})
  foreach(schema IN LISTS top_level)
    _ferry_included_schemas("${schema}" "${import_dirs}" included)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${schema}" ${included})
    get_filename_component(includer_dir "${schema}" DIRECTORY)
    foreach(dependency IN LISTS included)
      _ferry_queue_schema("${dependency}" "${includer_dir}")
    endforeach()
  endforeach()

  set(outputs "")
  set(stems "")
  set(providers "")
  foreach(schema IN LISTS schemas)
    string(MD5 key "${schema}")
    get_property(provider GLOBAL PROPERTY "FERRY_IDL_PROVIDER_${key}")
    if(provider AND NOT provider STREQUAL target)
      list(APPEND providers ${provider})
      continue()
    endif()
    get_filename_component(stem "${schema}" NAME_WLE)
    if(stem IN_LIST stems)
      message(FATAL_ERROR "ferry_add_idl(${target}): two schemas named ${stem} would both "
                          "generate ${stem}_generated.h (one is ${schema}); rename one of them")
    endif()
    list(APPEND stems "${stem}")
    set_property(GLOBAL PROPERTY "FERRY_IDL_PROVIDER_${key}" ${target})
    set(include_flags "")
    foreach(dir IN LISTS extra_dir_${key} import_dirs)
      list(APPEND include_flags -I "${dir}")
    endforeach()
    set(generated
        "${ARG_OUT_DIR}/${stem}_generated.h"
        "${ARG_OUT_DIR}/${stem}.ferry.h"
        "${ARG_OUT_DIR}/${stem}.ferry.cc")
    add_custom_command(
      OUTPUT ${generated}
      COMMAND ferry::ferryc -o "${ARG_OUT_DIR}" ${include_flags} ${flatc_flags}
              --flatc "$<TARGET_FILE:flatbuffers::flatc>"
              --depfile "${ARG_OUT_DIR}/${stem}.d" "${schema}"
      DEPENDS ferry::ferryc flatbuffers::flatc "${schema}"
      DEPFILE "${ARG_OUT_DIR}/${stem}.d"
      COMMENT "ferryc ${stem}"
      VERBATIM)
    list(APPEND outputs ${generated})
  endforeach()

  list(REMOVE_DUPLICATES providers)
  if(NOT TARGET ${target} AND NOT outputs)
    # Everything it names is generated by other targets: it only gathers them.
    add_library(${target} INTERFACE)
    target_link_libraries(${target} INTERFACE ${providers} ferry::runtime)
    return()
  endif()
  if(NOT TARGET ${target})
    add_library(${target} STATIC)
  endif()
  target_sources(${target} PRIVATE ${outputs})
  target_include_directories(${target} PUBLIC "${ARG_OUT_DIR}")
  target_link_libraries(${target} PUBLIC ${providers} ferry::runtime)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
