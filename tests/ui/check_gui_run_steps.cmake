# SPDX-License-Identifier: GPL-3.0-or-later
# --steps with a recorded run, offscreen: the run is viewed (never asked to train: no "a recorded
# run cannot be trained"), the window is saved and the app exits 0. The run is named without its
# suffix, as a copy or a download may be: it is told by its content.
file(REMOVE "${OUT}" "${OUT}.sqlite" "${OUT}.run-of-monday")
file(REMOVE_RECURSE "${OUT}.data" "${OUT}.config")
set(ENV{QT_QPA_PLATFORM} offscreen)
set(ENV{XDG_DATA_HOME} "${OUT}.data")   # runs recorded here, not in the user's folder
set(ENV{XDG_CONFIG_HOME} "${OUT}.config")
execute_process(COMMAND "${CLI}" train --steps 2 --devices cpu:2 --batch 8 --data synthetic
                        --run "${OUT}.sqlite"
  RESULT_VARIABLE result OUTPUT_QUIET TIMEOUT 300)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "replicascope-cli train exited with ${result}")
endif()
file(COPY_FILE "${OUT}.sqlite" "${OUT}.run-of-monday")
execute_process(COMMAND "${APP}" "${OUT}.run-of-monday" --steps 3 --screenshot "${OUT}"
  RESULT_VARIABLE result ERROR_VARIABLE said TIMEOUT 300)
if(NOT result EQUAL 0 OR said MATCHES "cannot be trained")
  message(FATAL_ERROR "replicascope on a run with --steps exited with ${result}: ${said}")
endif()
file(READ "${OUT}" head LIMIT 8 HEX)
if(NOT head STREQUAL "89504e470d0a1a0a")
  message(FATAL_ERROR "${OUT} is not a PNG (starts with ${head})")
endif()
