# ferry_set_warnings(<target>): warnings are errors on ferry's own code (never imposed on
# users' targets).
function(ferry_set_warnings target)
  # -Wsuggest-override: an interface that gains a method must not leave an implementation
  # silently hiding it (clang reports the same as -Winconsistent-missing-override).
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wsuggest-override)
  # GCC 12 reports false -Wrestrict overlaps inside std::string's operator+ at -O2/-O3
  # (GCC bug 105651); keep the warning, don't fail the build on it.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-error=restrict)
  endif()
endfunction()
