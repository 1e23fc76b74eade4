# ferry_add_idl(<target> [IDL] <file.idl|file.fbs>... [IMPORT_DIRS <dir>...] [OUT_DIR <dir>])
#
# Makes <target> a static library holding the code ferryc generates for each schema:
# flatc's <stem>_generated.h (messages) and ferryc's <stem>.ferry.h/.ferry.cc (stubs and
# skeletons). Linking <target> gives the generated include dir and ferry::runtime.
# List every schema whose generated header the program includes, included ones too.
# Regenerates when a schema, or any file it includes (tracked through ferryc's depfile),
# changes. Works in-tree (add_subdirectory) and installed (find_package(ferry)).
function(ferry_add_idl target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUT_DIR" "IDL;IMPORT_DIRS")
  set(schemas ${ARG_IDL} ${ARG_UNPARSED_ARGUMENTS})
  if(NOT schemas)
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

  set(import_flags "")
  foreach(dir IN LISTS ARG_IMPORT_DIRS)
    get_filename_component(dir "${dir}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND import_flags -I "${dir}")
  endforeach()

  set(outputs "")
  set(sources "")
  foreach(schema IN LISTS schemas)
    get_filename_component(schema "${schema}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    if(NOT EXISTS "${schema}")
      message(FATAL_ERROR "ferry_add_idl(${target}): ${schema} does not exist")
    endif()
    if(NOT schema MATCHES "\\.(idl|fbs)$")
      message(FATAL_ERROR "ferry_add_idl(${target}): ${schema} is not an .idl or .fbs file")
    endif()
    get_filename_component(stem "${schema}" NAME_WLE)
    set(generated
        "${ARG_OUT_DIR}/${stem}_generated.h"
        "${ARG_OUT_DIR}/${stem}.ferry.h"
        "${ARG_OUT_DIR}/${stem}.ferry.cc")
    add_custom_command(
      OUTPUT ${generated}
      COMMAND ferry::ferryc -o "${ARG_OUT_DIR}" ${import_flags}
              --flatc "$<TARGET_FILE:flatbuffers::flatc>"
              --depfile "${ARG_OUT_DIR}/${stem}.d" "${schema}"
      DEPENDS ferry::ferryc flatbuffers::flatc "${schema}"
      DEPFILE "${ARG_OUT_DIR}/${stem}.d"
      COMMENT "ferryc ${stem}"
      VERBATIM)
    list(APPEND outputs ${generated})
    list(APPEND sources "${ARG_OUT_DIR}/${stem}.ferry.cc")
  endforeach()

  if(NOT TARGET ${target})
    add_library(${target} STATIC)
  endif()
  target_sources(${target} PRIVATE ${outputs})
  target_include_directories(${target} PUBLIC "${ARG_OUT_DIR}")
  target_link_libraries(${target} PUBLIC ferry::runtime)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
