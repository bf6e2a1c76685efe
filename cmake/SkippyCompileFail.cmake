# One compile-fail test: building TARGET must FAIL, and the build output must match the regular
# expression written on the first line of SOURCE as "// expect: <regex>". A build that succeeds fails
# the test, and so does a build that fails for another reason. Run with cmake -P and
# -DBUILD_DIR= -DTARGET= -DSOURCE= -DCONFIG=.

foreach(var BUILD_DIR TARGET SOURCE CONFIG)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "SkippyCompileFail.cmake: ${var} is not set")
  endif()
endforeach()

file(STRINGS "${SOURCE}" first LIMIT_COUNT 1)
if(NOT first MATCHES "^// expect: (.+)$")
  message(FATAL_ERROR "${SOURCE}: the first line must be '// expect: <regex>'")
endif()
string(STRIP "${CMAKE_MATCH_1}" expect)

set(build_args --build "${BUILD_DIR}" --target "${TARGET}")
if(NOT CONFIG STREQUAL "")
  list(APPEND build_args --config "${CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" ${build_args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(log "${out}${err}")

if(rc EQUAL 0)
  message(NOTICE "${log}")
  message(FATAL_ERROR "${TARGET} compiled, but it must fail to compile with: ${expect}")
endif()
if(NOT log MATCHES "${expect}")
  message(NOTICE "${log}")
  message(FATAL_ERROR "${TARGET} failed to compile, but without the expected message: ${expect}")
endif()
message(STATUS "${TARGET} fails to compile as expected: ${expect}")
