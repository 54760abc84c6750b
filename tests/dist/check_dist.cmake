# SPDX-License-Identifier: MIT
# A multi-process run against a single-process run of the same training (issue 6).
#   -DCLI=replicascope-cli -DPYTHON=python3 -DWORK=dir -DNPROC=N -DDEVICES=cpu:K
#   -DREF_DEVICES=cpu:M -DARGS="train options" -DTOLERANCE=T -DSHARES=processes x copies
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND "${CLI}" train ${args} --devices ${REF_DEVICES} --run "${WORK}/reference.sqlite"
  RESULT_VARIABLE result TIMEOUT 400)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the single-process run failed (${result})")
endif()
execute_process(COMMAND "${CLI}" launch --nproc ${NPROC} -- "${CLI}" train --dist --timeout 60
                        ${args} --devices ${DEVICES} --run "${WORK}/dist.sqlite"
  RESULT_VARIABLE result TIMEOUT 400)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the ${NPROC}-process run failed (${result})")
endif()
# The runs listing names the processes.
execute_process(COMMAND "${CLI}" runs "${WORK}" OUTPUT_VARIABLE listing RESULT_VARIABLE result
  TIMEOUT 60)
if(NOT result EQUAL 0 OR NOT listing MATCHES "dist.sqlite +[0-9]+ [^\n]* x ${NPROC} ")
  message(FATAL_ERROR "runs does not list the ${NPROC}-process run as such:\n${listing}")
endif()
execute_process(COMMAND "${PYTHON}" "${CMAKE_CURRENT_LIST_DIR}/compare_runs.py"
                        "${WORK}/reference.sqlite" "${WORK}/dist.sqlite" --tolerance ${TOLERANCE}
                        --shares ${SHARES}
  RESULT_VARIABLE result TIMEOUT 120)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the runs differ")
endif()
