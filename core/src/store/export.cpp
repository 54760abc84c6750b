// SPDX-License-Identifier: MIT
#include "replicascope/store/export.h"

#include <sys/stat.h>

#include <algorithm>
#include <iostream>
#include <stdexcept>

#include "replicascope/base/atomic_write.h"
#include "replicascope/base/stop_signals.h"
#include "replicascope/base/utf8.h"

namespace replicascope::store {

std::string csv_field(const std::string& raw) {
  const auto text = valid_utf8(raw);  // CSV is UTF-8 too
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void write_csv(const RunReader& run, const StatFilter& filter, std::ostream& out) {
  out.precision(17);
  out << "step,layer,sync_point,copy,channel,statistic,value\n";
  std::string layer, quoted;
  run.for_each_stat(filter, [&](const StatRow& r) {
    stop_here_if_signalled("stopped");  // Ctrl-C: the partial file goes (write_atomically)
    if (r.layer != layer) quoted = csv_field(layer = r.layer);
    out << r.step << ',' << quoted << ',' << r.sync_point << ',' << r.key.label() << ','
        << r.channel << ',' << statistic_name(r.statistic) << ',' << r.value << '\n';
  });
}

void write_summaries_csv(const RunReader& run, const std::string& layer, std::ostream& out) {
  out.precision(9);  // float32's digits
  out << "step,layer,sync_point,copy,count,mean,var\n";
  const auto layers = layer.empty() ? run.layers() : std::vector<std::string>{layer};
  for (const auto& name : layers) {
    const auto quoted = csv_field(name);
    run.for_each_summary(name, [&](const SummaryRow& r) {
      stop_here_if_signalled("stopped");
      out << r.step << ',' << quoted << ',' << r.sync_point << ',' << r.summary.key.label() << ','
          << r.summary.count << ',' << r.summary.mean << ',' << r.summary.var << '\n';
    });
  }
}

void write_csv(const RunReader& run, const StatFilter& filter, const std::string& path) {
  write_output(path, [&](std::ostream& out) { write_csv(run, filter, out); });
}

void write_output(const std::string& path, const std::function<void(std::ostream& out)>& write) {
  if (path == "-") {
    write(std::cout);
    std::cout.flush();
    if (!std::cout) throw std::runtime_error("cannot write to standard output");
    return;
  }
  std::exception_ptr read_error;
  try {
    write_text_atomically(path, [&](std::ostream& out) {
      try {
        write(out);
      } catch (const StoreError&) {
        read_error = std::current_exception();
        throw;
      }
    });
  } catch (...) {
    if (read_error) std::rethrow_exception(read_error);
    throw;
  }
}

void check_outputs(const std::string& run,
                   const std::vector<std::pair<std::string, std::string>>& outputs) {
  auto same_file = [](const std::string& a, const std::string& b) {
    struct stat sa {
    }, sb{};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
  };
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& [flag, path] = outputs[i];
    if (path.empty()) {
      throw std::invalid_argument(flag + " expects a file name (or - for standard output), got ''");
    }
    for (size_t j = 0; j < i; ++j) {
      if (path == outputs[j].second || (path != "-" && same_file(path, outputs[j].second))) {
        throw std::invalid_argument(outputs[j].first + " and " + flag + " both name '" + path +
                                    "'; expected a file of its own for each");
      }
    }
    if (path == "-") continue;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      if (path == run + suffix || same_file(path, run + suffix)) {
        throw std::invalid_argument(flag + " '" + path + "' is the run being exported" +
                                    (*suffix ? std::string(" (its ") + suffix + " file)" : "") +
                                    "; expected another file");
      }
    }
  }
}

int64_t layer_channels(const RunReader& run, const std::string& layer) {
  const auto kept = run.detail_steps();
  if (kept.empty()) return 0;
  StatFilter first_step;
  first_step.layer = layer;  // empty: every layer, and the widest is the answer
  first_step.first_step = first_step.last_step = kept.front();
  first_step.statistic = Statistic::kMean;
  int64_t channels = 0;
  run.for_each_stat(first_step,
                    [&](const StatRow& row) { channels = std::max(channels, row.channel + 1); });
  return channels;
}

void check_channels(const RunReader& run, const StatFilter& filter) {
  if (filter.first_channel == 0 && filter.last_channel == INT64_MAX) return;  // all of them
  const auto channels = layer_channels(run, filter.layer);
  // One layer must have the whole range; without --layer, some layer must have its start.
  const int64_t asked = filter.layer.empty() ? filter.first_channel : filter.last_channel;
  if (channels == 0 || asked < channels) return;
  const auto which =
      filter.layer.empty() ? std::string("its widest layer") : "layer '" + filter.layer + "'";
  throw StoreError("run '" + run.path() + "': channels " + std::to_string(filter.first_channel) +
                   " to " + std::to_string(filter.last_channel) + " asked for, but " + which +
                   " has " + std::to_string(channels) + " channel(s) (0 to " +
                   std::to_string(channels - 1) + ")");
}

}  // namespace replicascope::store
