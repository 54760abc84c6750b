// SPDX-License-Identifier: GPL-3.0-or-later
// replicascope: the desktop debugger. With no file it opens the built-in demo (Fashion-MNIST
// when installed, 4 CPU copies); MODEL.pt opens a TorchScript model, RUN.sqlite a recorded run.
// The session takes the flags of `replicascope-cli train`, spelt the same way.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QSocketNotifier>
#include <QTimer>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "replicascope/base/allocator.h"
#include "replicascope/base/build_info.h"
#include "replicascope/base/stop_signals.h"
#include "replicascope/engine/session_spec.h"
#include "replicascope/store/run_reader.h"
#include "window/file_kind.h"
#include "window/main_window.h"
#include "window/main_window_icons.h"

using replicascope::ui::MainWindow;
using replicascope::ui::ModelSnapshot;
using replicascope::ui::SessionViewer;

namespace {

struct CommandLine {
  QString file;  // empty: the demo
  // The session flags given, as replicascope-cli train spells them ("--data", "cifar10:...").
  std::vector<std::pair<std::string, std::string>> session;
  int64_t steps = 0;
  QString screenshot;  // empty: none
};

// The flags of `replicascope-cli train` that a desktop session takes (not the ones that make
// it one rank of several processes, nor the run file, which the GUI names itself).
bool gui_takes(const std::string& flag) {
  return flag != "dist" && flag != "backend" && flag != "timeout" && flag != "run";
}

// The description, --help, --version and the file argument.
void describe(QCommandLineParser& parser) {
  parser.setApplicationDescription(
      "ReplicaScope: a visual debugger for data-parallel training with synchronized BatchNorm.\n\n"
      "Session options, as replicascope-cli train takes them (the defaults are the last "
      "session's):\n" REPLICASCOPE_SESSION_USAGE);
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument("file",
                               "a TorchScript model (.pt) or a recorded run (.sqlite); "
                               "none: the built-in demo");
}

// The session flags the GUI takes, each with its name as replicascope-cli train spells it.
std::vector<std::pair<std::string, QCommandLineOption>> add_session_options(
    QCommandLineParser& parser) {
  std::vector<std::pair<std::string, QCommandLineOption>> session_options;
  for (const auto& flag : replicascope::engine::session_flags()) {
    if (!gui_takes(flag.name)) continue;
    QCommandLineOption option(QString::fromLatin1(flag.name), "see above",
                              flag.takes_value ? "value" : QString());
    option.setFlags(QCommandLineOption::HiddenFromHelp);  // REPLICASCOPE_SESSION_USAGE says it
    session_options.emplace_back(flag.name, option);
    parser.addOption(option);
  }
  return session_options;
}

// The file to open ("" for the demo), or nothing after saying what is wrong with it.
std::optional<QString> file_to_open(const QStringList& files) {
  if (files.size() > 1) {
    std::fprintf(stderr, "replicascope: expected at most one file, got %lld\n",
                 static_cast<long long>(files.size()));
    return std::nullopt;
  }
  if (files.isEmpty()) return QString();
  const QFileInfo file(files.front());
  // Said here, before a window opens, so a missing file and a directory behave alike.
  const char* problem = !file.exists()       ? "no such file"
                        : file.isDir()       ? "it is a directory, not a file"
                        : !file.isReadable() ? "permission denied"
                                             : nullptr;
  if (problem) {
    std::fprintf(stderr, "replicascope: cannot open '%s': %s\n", qPrintable(file.filePath()),
                 problem);
    return std::nullopt;
  }
  if (replicascope::ui::kind_of(file.filePath()) == replicascope::ui::FileKind::unknown) {
    std::fprintf(stderr, "replicascope: %s\n",
                 qPrintable(replicascope::ui::not_openable(file.filePath())));
    return std::nullopt;
  }
  return file.filePath();
}

// Whether the session flags' values are good; bad values are said now, as the CLI says them,
// before any window opens.
bool session_flags_valid(const std::vector<std::pair<std::string, std::string>>& session) {
  try {
    replicascope::engine::SessionSpec spec;
    for (const auto& [name, value] : session)
      replicascope::engine::set_session_flag(spec, name, value);
    replicascope::engine::check_session_spec(spec);
  } catch (const replicascope::UsageError& e) {
    std::fprintf(stderr, "replicascope: %s\n", e.what());
    return false;
  }
  return true;
}

// The options, or an exit status after saying what is wrong (--help and --version exit inside).
std::optional<CommandLine> parse(QCoreApplication& app, int& status) {
  QCommandLineParser parser;
  describe(parser);
  const auto session_options = add_session_options(parser);
  const QCommandLineOption synthetic("synthetic", "synthetic images: the same as --data synthetic");
  const QCommandLineOption steps("steps", "train this many steps once open", "n");
  const QCommandLineOption screenshot(
      "screenshot", "after --steps, save the window as PNG to this file and quit", "file");
  parser.addOptions({synthetic, steps, screenshot});
  parser.process(app);
  status = 2;
  const auto file = file_to_open(parser.positionalArguments());
  if (!file) return std::nullopt;
  CommandLine line;
  line.file = *file;
  if (parser.isSet(synthetic)) line.session.emplace_back("data", "synthetic");
  for (const auto& [name, option] : session_options) {
    if (parser.isSet(option)) line.session.emplace_back(name, parser.value(option).toStdString());
  }
  if (!session_flags_valid(line.session)) return std::nullopt;
  bool ok = true;
  line.steps = parser.isSet(steps) ? parser.value(steps).toLongLong(&ok) : 0;
  if (!ok || line.steps < 0) {
    std::fprintf(stderr, "replicascope: --steps expects a whole number of at least 0, got '%s'\n",
                 qPrintable(parser.value(steps)));
    return std::nullopt;
  }
  line.screenshot = parser.value(screenshot);
  status = 0;
  return line;
}

// --steps and --screenshot: train once open, then save the window and quit (docs, tests). A
// viewer of the session, as the panels are; it must be destroyed before the window.
class TrainThenShoot : public SessionViewer {
 public:
  TrainThenShoot(MainWindow& window, const CommandLine& line)
      : window_(window), steps_(line.steps), screenshot_(line.screenshot) {
    window_.train_first_session(line.steps);
    window_.context().add_viewer(this);
  }
  ~TrainThenShoot() override { window_.context().remove_viewer(this); }

  void on_opened(const ModelSnapshot& snapshot) override {
    // The window trains the first live session (train_first_session); saved once it stops.
    const bool trains = std::exchange(steps_, 0) > 0 && snapshot.live;
    if (!trains && !screenshot_.isEmpty()) QTimer::singleShot(300, [this] { save(); });
  }
  void on_running_changed(bool running) override {
    if (!running && !screenshot_.isEmpty()) QTimer::singleShot(300, [this] { save(); });
  }
  void on_error(const QString&) override {
    if (!screenshot_.isEmpty()) QApplication::exit(1);
  }

 private:
  void save() {
    try {
      window_.save_screenshot(screenshot_);
      QApplication::quit();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "replicascope: %s\n", e.what());
      QApplication::exit(1);
    }
  }
  MainWindow& window_;
  int64_t steps_;
  QString screenshot_;
};

// SIGINT, SIGTERM and SIGHUP close the window as its close button does (the session stops
// after its step in progress and its run file is closed whole) and quit. Qt's pattern for Unix
// signals: the handler writes to a pipe (base/stop_signals.h), a notifier in the main thread
// reads it. A viewer of the session, to know the live session's run file.
class StopOnSignal : public SessionViewer {
 public:
  explicit StopOnSignal(MainWindow& window)
      : window_(window), notifier_(replicascope::stop_signal_fd(), QSocketNotifier::Read) {
    window_.context().add_viewer(this);
    QObject::connect(&notifier_, &QSocketNotifier::activated, [this] { stop(); });
  }
  ~StopOnSignal() override { window_.context().remove_viewer(this); }
  void on_opened(const ModelSnapshot& snapshot) override {
    run_path_ = snapshot.live ? snapshot.run_path : QString();
  }
  void on_reset() override { run_path_.clear(); }  // a new file, named by the engine thread
  const QString& run_path() const { return run_path_; }

 private:
  void stop() {
    notifier_.setEnabled(false);
    std::fprintf(stderr, "replicascope: %s: stopping the session and quitting\n",
                 replicascope::signal_name(replicascope::stop_signal()).c_str());
    window_.close();
    QApplication::quit();
  }
  MainWindow& window_;
  QSocketNotifier notifier_;
  QString run_path_;
};

// What a stop signal ended, once the window is gone and the run file closed: the live session's
// run as it is on disk.
void say_stopped(const QString& run_path) {
  std::string what;
  try {
    if (!run_path.isEmpty() && QFileInfo::exists(run_path)) {
      const auto steps = replicascope::store::RunReader(run_path.toStdString()).steps();
      what = " at step " + std::to_string(steps.empty() ? 0 : steps.back().step) +
             "; the run holds " + std::to_string(steps.size()) + " steps (" +
             run_path.toStdString() + ")";
    }
  } catch (const std::exception& e) {
    what = "; its run file cannot be read back: " + std::string(e.what());
  }
  std::fprintf(stderr, "replicascope: %s: stopped%s\n",
               replicascope::signal_name(replicascope::stop_signal()).c_str(), what.c_str());
}

// The window until it closes or a stop signal quits; `run_path`: the live session's run then.
int show_window(const CommandLine& line, QString& run_path) {
  MainWindow window;
  window.show();
  const TrainThenShoot train_then_shoot(window, line);
  const StopOnSignal stop_on_signal(window);
  if (!line.session.empty()) {
    window.open_with_flags(line.session, line.file);
  } else if (line.file.isEmpty()) {
    window.open_demo();
  } else {
    window.open_file(line.file);
  }
  const int status = QApplication::exec();
  run_path = stop_on_signal.run_path();
  return status;
}

// --help and --version print and exit 0 without a display: QApplication would abort without
// one, so they are answered by a QCoreApplication before it is made.
bool asks_for_help_or_version(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const QByteArray arg(argv[i]);
    if (arg == "--") break;
    if (arg == "-h" || arg == "--help" || arg == "--help-all" || arg == "-v" ||
        arg == "--version" || arg == "-?")
      return true;
  }
  return false;
}

void name_application() {
  QCoreApplication::setOrganizationName("ReplicaScope");
  QCoreApplication::setApplicationName("ReplicaScope");
  QCoreApplication::setApplicationVersion(
      QString::fromStdString(replicascope::replicascope_version()));
}

}  // namespace

int main(int argc, char** argv) {
  replicascope::keep_freed_memory_mapped();
  int status = 0;
  if (asks_for_help_or_version(argc, argv)) {
    QCoreApplication core(argc, argv);
    name_application();
    parse(core, status);  // prints and exits 0, or says what else is wrong
    return status;
  }
  QApplication app(argc, argv);
  name_application();
  // The desktop entry's name ties the windows to it (Wayland task bars); the icon is its icon.
  QGuiApplication::setDesktopFileName("io.github.replicascope.ReplicaScope");
  QApplication::setWindowIcon(replicascope::ui::application_icon());
  const auto line = parse(app, status);
  if (!line) return status;

  replicascope::catch_stop_signals();
  QString run_path;
  status = show_window(*line, run_path);
  if (!replicascope::stop_requested()) return status;
  say_stopped(run_path);
  return 128 + replicascope::stop_signal();
}
