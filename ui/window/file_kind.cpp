// SPDX-License-Identifier: GPL-3.0-or-later
#include "window/file_kind.h"

#include <QByteArray>
#include <QFile>
#include <QFileInfo>
#include <filesystem>
#include <system_error>

namespace replicascope::ui {

FileKind kind_of(const QString& path) {
  // Only a regular file is read: opening a FIFO would wait for a writer (a hang at start-up).
  std::error_code error;
  const bool regular = std::filesystem::is_regular_file(path.toStdString(), error);
  QFile file(path);
  const auto head = regular && file.open(QIODevice::ReadOnly) ? file.read(16) : QByteArray();
  if (head.startsWith("PK\x03\x04")) return FileKind::model;
  if (head == QByteArray("SQLite format 3", 16)) return FileKind::run;  // with its NUL
  const auto suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "pt" || suffix == "pth") return FileKind::model;
  return suffix == "sqlite" ? FileKind::run : FileKind::unknown;
}

QString not_openable(const QString& path) {
  return QString(
             "cannot open '%1': expected a TorchScript model (.pt, a zip archive) or a "
             "recorded run (.sqlite, an SQLite database)")
      .arg(path);
}

}  // namespace replicascope::ui
