// SPDX-License-Identifier: GPL-3.0-or-later
// How the window fits its size. It is laid out for 1024x640 and more; below that, rather than
// squeezing the panels past their controls (buttons off the edge, labels cut), the dock that
// needs the room is hidden, the first of `folded` when the window is narrower than 1024 px, the
// second when it is lower than 640 px, and the status bar says which and how to get it back. A
// hidden dock comes back when the window is that large again; one the user shows meanwhile (View
// menu) stays shown. The `kept` dock keeps the width the user gave it (by dragging its edge, or
// as the window last had it): a window made smaller squeezes it, and it gets that width back
// when the window grows again.
#pragma once

#include <QObject>
#include <QSize>

#include <array>

class QDockWidget;
class QLabel;
class QMainWindow;
class QStatusBar;

namespace replicascope::ui {

class WindowFit : public QObject {
  Q_OBJECT
 public:
  static constexpr int kWidth = 1024;
  static constexpr int kHeight = 640;

  WindowFit(QMainWindow& window, QDockWidget& kept, std::array<QDockWidget*, 2> folded,
            QStatusBar& bar);

  // "900x600 is below 1024x640: Breakpoint hidden (View menu)"; "" while nothing is hidden.
  QString text() const;
  // The width the kept dock is given back (0 until the window showed).
  int kept_width() const { return kept_width_; }

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  struct Fold {
    QDockWidget* dock = nullptr;
    bool too_small = false;  // the window is below the dock's bound
    bool hidden = false;     // hidden by this, not by the user
  };
  void fit(QSize size);
  static void apply(Fold& fold, bool too_small);
  void show_text();
  void remember_kept_width();
  void give_back_kept_width();

  QMainWindow& window_;
  QDockWidget& kept_;
  int kept_width_ = 0;
  bool dragging_ = false;  // the user drags a dock's edge
  std::array<Fold, 2> folds_;
  QLabel* label_ = nullptr;
  QSize size_;
};

}  // namespace replicascope::ui
