// SPDX-License-Identifier: GPL-3.0-or-later
// Errors as a person reads them: a short summary (the error line, which copies failed, each
// distinct message once) in a dialog that fits the screen, with the whole text (tracebacks)
// under Details.
#pragma once

#include <QString>

class QWidget;

namespace replicascope::ui {

struct ErrorSummary {
  QString summary;  // a few short lines
  QString details;  // the whole text; empty when the summary already is all of it
};

// Folds "  copy N: MESSAGE" lines that repeat a message into one "  copies 0, 1, 3: MESSAGE",
// keeps the first lines of a long text and shortens very long lines.
ErrorSummary summarize_error(const QString& what);

// A warning dialog with the summary, and the whole text under Details.
void show_error(QWidget* parent, const QString& what);

}  // namespace replicascope::ui
