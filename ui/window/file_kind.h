// SPDX-License-Identifier: GPL-3.0-or-later
// What a file given to the debugger holds: a TorchScript model, a recorded run, or neither. One
// answer for the command line, File > Open, Recent files and drag and drop.
#pragma once

#include <QString>

namespace replicascope::ui {

enum class FileKind { model, run, unknown };

// By the file's first bytes: a zip archive is a TorchScript model, SQLite's header a recorded
// run (the MIME type goes by content too, so a run named anything opens). A file that cannot be
// read yet, or is not a regular file (a FIFO is never opened here), goes by its suffix (.pt,
// .pth; .sqlite), and opening it says what is wrong.
FileKind kind_of(const QString& path);

// "cannot open 'PATH': expected a TorchScript model (.pt, a zip archive) or a recorded run ..."
QString not_openable(const QString& path);

}  // namespace replicascope::ui
