#include "replicascope/store/export.h"

#include "replicascope/atomic_write.h"

namespace replicascope::store {

void write_csv(const RunReader& run, const StatFilter& filter, const std::string& path) {
  write_text_atomically(path, [&](std::ostream& out) {
    out.precision(17);
    out << "step,layer,sync_point,copy,channel,statistic,value\n";
    run.for_each_stat(filter, [&](const StatRow& r) {
      out << r.step << ',' << r.layer << ',' << r.sync_point << ',' << r.key.label() << ','
          << r.channel << ',' << statistic_name(r.statistic) << ',' << r.value << '\n';
    });
  });
}

}  // namespace replicascope::store
