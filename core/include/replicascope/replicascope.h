// Everything a LibTorch user needs from ReplicaScope's core.
#pragma once

#include "replicascope/callback_context.h"
#include "replicascope/data_parallel.h"
#include "replicascope/devices.h"
#include "replicascope/model/frontend_model.h"
#include "replicascope/model/model.h"
#include "replicascope/model/scripted_model.h"
#include "replicascope/module_walk.h"
#include "replicascope/nn/convert_model.h"
#include "replicascope/nn/stats_observer.h"
#include "replicascope/nn/sync_batchnorm.h"
#include "replicascope/replicate.h"
#include "replicascope/replication_callback.h"
#include "replicascope/script/module_file.h"
#include "replicascope/script/verify.h"
#include "replicascope/sync/future_result.h"
#include "replicascope/sync/sync_master.h"
