# The sources_listed test: every .c file of a built folder is in that
# folder's explicit source list, so a file added without listing it fails
# here instead of silently not being built (or its tests not being run).
#   cmake -DSRC=<source dir> "-DFOLDERS=common;nets;...;tools;examples;bench" -P check_sources.cmake
# Each folder's list is <folder>/sources.cmake; the test runners' lists are
# tests/sources.cmake.
cmake_minimum_required(VERSION 3.25)

set(problems)

# Report files on disk that are not in `listed` and listed files not on disk.
function(compare_files what on_disk listed)
  foreach(f IN LISTS on_disk)
    if(NOT f IN_LIST listed)
      list(APPEND problems "${f} is not listed in ${what}")
    endif()
  endforeach()
  foreach(f IN LISTS listed)
    if(NOT f IN_LIST on_disk)
      list(APPEND problems "${f} is listed in ${what} but does not exist")
    endif()
  endforeach()
  set(problems ${problems} PARENT_SCOPE)
endfunction()

foreach(folder IN LISTS FOLDERS)
  if(NOT EXISTS ${SRC}/${folder}/sources.cmake)
    list(APPEND problems "${folder}/sources.cmake is missing")
    continue()
  endif()
  unset(NDE_MODULE_SOURCES)
  unset(NDE_TOOL_SOURCES)
  unset(NDE_EXAMPLES)
  unset(NDE_BENCHES)
  include(${SRC}/${folder}/sources.cmake)
  set(listed ${NDE_MODULE_SOURCES} ${NDE_TOOL_SOURCES} ${NDE_EXAMPLES} ${NDE_BENCHES})
  list(TRANSFORM listed PREPEND ${folder}/)
  file(GLOB on_disk RELATIVE ${SRC} ${SRC}/${folder}/*.c)
  compare_files(${folder}/sources.cmake "${on_disk}" "${listed}")
endforeach()

# Test runners tests/test_<module>.c and their files tests/<module>/*.c.
include(${SRC}/tests/sources.cmake)
set(runners ${NDE_TEST_MODULES})
list(TRANSFORM runners PREPEND tests/test_)
list(TRANSFORM runners APPEND .c)
file(GLOB on_disk RELATIVE ${SRC} ${SRC}/tests/test_*.c)
compare_files("tests/sources.cmake (NDE_TEST_MODULES)" "${on_disk}" "${runners}")
foreach(module IN LISTS NDE_TEST_MODULES)
  set(listed ${NDE_TEST_PARTS_${module}})
  list(TRANSFORM listed PREPEND tests/)
  file(GLOB on_disk RELATIVE ${SRC} ${SRC}/tests/${module}/*.c)
  compare_files("tests/sources.cmake (NDE_TEST_PARTS_${module})" "${on_disk}" "${listed}")
endforeach()

if(problems)
  list(JOIN problems "\n  " text)
  message(FATAL_ERROR "source lists out of date:\n  ${text}")
endif()
message(STATUS "every source file is listed")
