# SPDX-License-Identifier: MIT
# Build-time checks shared by every project target: warnings and sanitizers (scripts/check.sh).

# replicascope_warnings: every project target links it PRIVATE, so all compile with one set.
# Third-party headers (LibTorch, Qt, GoogleTest) come from imported targets, whose include
# directories CMake passes as -isystem, so their warnings do not count.
option(REPLICASCOPE_WERROR "Treat compiler warnings as errors (CI turns this on)" OFF)
add_library(replicascope_warnings INTERFACE)
target_compile_options(replicascope_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter
  $<$<BOOL:${REPLICASCOPE_WERROR}>:-Werror>)

# REPLICASCOPE_SANITIZE=address,undefined or thread: instrument every project target. Set for the
# whole directory tree, not per target, so the LibTorch PCH (cmake/ReplicaScopePch.cmake) is
# built with the very flags of the TUs that reuse it; GCC refuses a PCH built otherwise.
set(REPLICASCOPE_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined or thread")
if(REPLICASCOPE_SANITIZE)
  if(REPLICASCOPE_SANITIZE MATCHES "thread" AND REPLICASCOPE_SANITIZE MATCHES "address")
    message(FATAL_ERROR "REPLICASCOPE_SANITIZE: thread cannot be combined with address")
  endif()
  # No recovery: undefined behaviour must fail the test that hit it, not only print.
  set(flags -fsanitize=${REPLICASCOPE_SANITIZE} -fno-omit-frame-pointer)
  if(REPLICASCOPE_SANITIZE MATCHES "undefined")
    list(APPEND flags -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${flags})
  add_link_options(${flags})
  message(STATUS "ReplicaScope: built with ${flags}")
endif()
