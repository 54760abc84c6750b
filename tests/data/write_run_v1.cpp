// Wrote tests/data/run_v1.sqlite with the version-1 writer (ReplicaScope at commit 9475ce8), for
// the reader's compatibility test (test_store.cpp): 3 steps of a 2-copy model with two
// synchronized layers. Not built by the project; it was built once against that commit:
//   git archive 9475ce8 core/include core/src/store | tar x -C src
//   g++ -std=c++17 -Isrc/core/include -I/usr/include/torch/csrc/api/include \
//     write_run_v1.cpp src/core/src/store/run_writer.cpp -lsqlite3 -o write_v1
//   ./write_v1 run_v1.sqlite   (then PRAGMA journal_mode=DELETE, so it opens read-only as is)
#include <cstdio>
#include "replicascope/engine/session.h"
#include "replicascope/store/run_writer.h"
using namespace replicascope;
int main(int argc, char** argv) {
  store::Metadata meta{{"model", "demo"},
                       {"devices", "cpu:2"},
                       {"dataset", "synthetic"},
                       {"batch", "8"},
                       {"synchronized", "true"},
                       {"processes", "1"},
                       {"created", "2026-11-30T12:00:00Z"},
                       {"wiring",
                        "replicascope-wiring 1\n2\tcpu\tcpu\n"
                        "0\t0\t\tNet\t1,0,-1\t1,0,-1\n"
                        "1\t0\tfeatures\tSequential\t1,0,-1\t1,0,-1\n"
                        "2\t1\tfeatures.bn\tSynchronizedBatchNorm2d\t1,1,0\t1,1,1\n"
                        "3\t1\thead.bn\tSynchronizedBatchNorm1d\t1,1,2\t1,1,3"}};
  store::RunWriter writer(argv[1], meta);
  for (int step = 1; step <= 3; ++step) {
    replicascope::StepRecord r;
    r.step = step;
    r.loss = 2.0 / step;
    r.accuracy = 0.1 * step;
    for (const char* name : {"features.bn", "head.bn"}) {
      replicascope::LayerStats l;
      l.layer = name;
      l.count = 8;
      // Channel c of copy k at step s: mean s + 10k + c/10, var 1 + s + c.
      for (int k = 0; k < 2; ++k) {
        engine::CopyStats c{k, 4, {}, {}};
        for (int ch = 0; ch < 3; ++ch) {
          c.mean.push_back(step + 10 * k + ch / 10.0);
          c.var.push_back(1 + step + ch);
        }
        l.copies.push_back(c);
      }
      for (int ch = 0; ch < 3; ++ch) {
        l.mean.push_back(step + 5 + ch / 10.0);
        l.var.push_back(26 + step + ch);
        l.running_mean.push_back(0.1 * step);
        l.running_var.push_back(1 - 0.01 * step);
      }
      l.divergence = 0.5 * step;
      r.layers.push_back(l);
    }
    writer.append(r);
  }
  std::printf("wrote %s\n", argv[1]);
}
