// SPDX-License-Identifier: GPL-3.0-or-later
#include "window/window_fit.h"

#include <QDockWidget>
#include <QEvent>
#include <QLabel>
#include <QMainWindow>
#include <QMouseEvent>
#include <QResizeEvent>
#include <QStatusBar>
#include <QTimer>
#include <utility>

namespace replicascope::ui {

WindowFit::WindowFit(QMainWindow& window, QDockWidget& kept, std::array<QDockWidget*, 2> folded,
                     QStatusBar& bar)
    : QObject(&window), window_(window), kept_(kept) {
  folds_[0].dock = folded[0];
  folds_[1].dock = folded[1];
  label_ = new QLabel;
  label_->setObjectName("hidden-docks");
  label_->setStyleSheet("QLabel { background: #fff3c4; padding: 0 4px; }");
  label_->setVisible(false);
  bar.addWidget(label_);
  for (auto* dock : folded)
    connect(dock, &QDockWidget::visibilityChanged, this, &WindowFit::show_text);
  window.installEventFilter(this);
}

bool WindowFit::eventFilter(QObject* watched, QEvent* event) {
  switch (event->type()) {
    case QEvent::Resize:
      fit(static_cast<QResizeEvent*>(event)->size());
      // Once the layout has placed the docks for the new size.
      QTimer::singleShot(0, this, &WindowFit::give_back_kept_width);
      break;
    case QEvent::Show:
      if (kept_width_ == 0) QTimer::singleShot(0, this, &WindowFit::remember_kept_width);
      break;
    case QEvent::MouseButtonPress:
      // A press on the window itself, not on a panel, is on the edge between two docks.
      dragging_ = !window_.childAt(static_cast<QMouseEvent*>(event)->position().toPoint());
      break;
    case QEvent::MouseButtonRelease:
      if (std::exchange(dragging_, false))
        QTimer::singleShot(0, this, &WindowFit::remember_kept_width);
      break;
    default:
      break;
  }
  return QObject::eventFilter(watched, event);
}

void WindowFit::remember_kept_width() {
  if (kept_.isVisible() && !kept_.isFloating()) kept_width_ = kept_.width();
}

void WindowFit::give_back_kept_width() {
  if (kept_width_ > 0 && kept_.isVisible() && !kept_.isFloating() && kept_.width() != kept_width_) {
    window_.resizeDocks({&kept_}, {kept_width_}, Qt::Horizontal);
  }
}

void WindowFit::fit(QSize size) {
  size_ = size;
  apply(folds_[0], size.width() < kWidth);
  apply(folds_[1], size.height() < kHeight);
  show_text();
}

void WindowFit::show_text() {
  const auto text = this->text();
  label_->setText(text);
  label_->setVisible(!text.isEmpty());
}

void WindowFit::apply(Fold& fold, bool too_small) {
  // Only when the window crosses the bound: in between, what the user shows or hides stays.
  if (too_small == fold.too_small) return;
  fold.too_small = too_small;
  if (too_small && !fold.dock->isHidden() && !fold.dock->isFloating()) {
    fold.dock->hide();
    fold.hidden = true;
  } else if (!too_small && fold.hidden) {
    if (fold.dock->isHidden()) fold.dock->show();
    fold.hidden = false;
  }
}

QString WindowFit::text() const {
  QStringList hidden;
  for (const auto& fold : folds_) {
    if (fold.hidden && fold.dock->isHidden()) hidden << fold.dock->windowTitle();
  }
  if (hidden.isEmpty()) return {};
  return QString("%1x%2 is below %3x%4: %5 hidden (View menu)")
      .arg(size_.width())
      .arg(size_.height())
      .arg(kWidth)
      .arg(kHeight)
      .arg(hidden.join(", "));
}

}  // namespace replicascope::ui
