# ferry_set_warnings(<target>): warnings are errors on ferry's own code (never imposed on
# users' targets).
function(ferry_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
endfunction()
