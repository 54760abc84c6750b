# One precompiled header for LibTorch, built once and reused by every target that includes
# LibTorch: a TU that includes <torch/torch.h> costs about 30 s here without it.
# All targets are static libraries or executables compiled with the toolchain's default PIE
# flags, so the PCH is compatible with all of them.
add_library(replicascope_pch OBJECT "${CMAKE_CURRENT_LIST_DIR}/pch_anchor.cpp")
target_link_libraries(replicascope_pch PRIVATE ${TORCH_LIBRARIES})
target_precompile_headers(replicascope_pch PRIVATE "${CMAKE_CURRENT_LIST_DIR}/../core/src/pch.h")

# replicascope_use_pch(target): reuse the LibTorch PCH in `target`.
function(replicascope_use_pch target)
  target_precompile_headers(${target} REUSE_FROM replicascope_pch)
endfunction()
