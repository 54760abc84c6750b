# SPDX-License-Identifier: GPL-3.0-or-later
# The desktop app on the demo, offscreen: opens, trains a few steps, saves a screenshot, quits.
file(REMOVE "${OUT}")
file(REMOVE_RECURSE "${OUT}.data" "${OUT}.config")
set(ENV{QT_QPA_PLATFORM} offscreen)
set(ENV{XDG_DATA_HOME} "${OUT}.data")   # runs recorded here, not in the user's folder
set(ENV{XDG_CONFIG_HOME} "${OUT}.config")
execute_process(COMMAND "${APP}" --synthetic --devices cpu:2 --batch 8 --steps 3
                        --screenshot "${OUT}"
  RESULT_VARIABLE result TIMEOUT 300)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "replicascope exited with ${result}")
endif()
file(READ "${OUT}" head LIMIT 8 HEX)
if(NOT head STREQUAL "89504e470d0a1a0a")
  message(FATAL_ERROR "${OUT} is not a PNG (starts with ${head})")
endif()
file(GLOB runs "${OUT}.data/ReplicaScope/ReplicaScope/runs/*.sqlite")
list(LENGTH runs count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "expected one recorded run, found ${count}: ${runs}")
endif()
