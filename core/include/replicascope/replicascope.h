// SPDX-License-Identifier: MIT
// Everything a LibTorch user needs from ReplicaScope's core.
#pragma once

#include "replicascope/model/frontend_model.h"
#include "replicascope/model/model.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/nn/convert_model.h"
#include "replicascope/nn/stats_observer.h"
#include "replicascope/nn/sync_batchnorm.h"
#include "replicascope/parallel/callback_context.h"
#include "replicascope/parallel/data_parallel.h"
#include "replicascope/parallel/devices.h"
#include "replicascope/parallel/module_walk.h"
#include "replicascope/parallel/replicate.h"
#include "replicascope/parallel/replication_callback.h"
#include "replicascope/sync/future_result.h"
#include "replicascope/sync/sync_master.h"
#include "replicascope/torchscript/module_file.h"
#include "replicascope/verify/verify.h"
