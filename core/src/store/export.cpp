#include "replicascope/store/export.h"

#include <fstream>
#include <stdexcept>

#include "replicascope/atomic_write.h"

namespace replicascope::store {

void write_csv(const RunReader& run, const StatFilter& filter, const std::string& path) {
  write_atomically(path, [&](const std::string& temporary) {
    std::ofstream out(temporary);
    out.precision(17);
    out << "step,layer,sync_point,copy,channel,statistic,value\n";
    run.for_each_stat(filter, [&](const StatRow& r) {
      out << r.step << ',' << r.layer << ',' << r.sync_point << ',' << copy_label(r.copy) << ','
          << r.channel << ',' << r.statistic << ',' << r.value << '\n';
    });
    out.flush();
    if (!out) throw std::runtime_error("write failed (disk full?)");
  });
}

}  // namespace replicascope::store
