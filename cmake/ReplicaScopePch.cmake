# SPDX-License-Identifier: MIT
# One precompiled header for LibTorch, built once and reused by every target that includes
# LibTorch: a TU that includes <torch/torch.h> costs about 30 s here without it.
# GCC refuses a PCH built with other code-model flags, and Qt 6 adds -fPIC to every target that
# links it (the CLI, for plot export), so the PCH and every target that reuses it use -fPIC.
add_library(replicascope_pch OBJECT "${CMAKE_CURRENT_LIST_DIR}/pch_anchor.cpp")
target_link_libraries(replicascope_pch PRIVATE ${TORCH_LIBRARIES} replicascope_warnings)
target_compile_options(replicascope_pch PRIVATE -fPIC)
target_precompile_headers(replicascope_pch PRIVATE "${CMAKE_CURRENT_LIST_DIR}/../core/src/pch.h")

# replicascope_use_pch(target): reuse the LibTorch PCH in `target`.
function(replicascope_use_pch target)
  target_precompile_headers(${target} REUSE_FROM replicascope_pch)
  target_compile_options(${target} PRIVATE -fPIC)
endfunction()
