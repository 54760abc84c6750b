// SPDX-License-Identifier: GPL-3.0-or-later
#include "plot/plot_legend.h"

#include <QFontMetrics>
#include <QWheelEvent>
#include <algorithm>

namespace replicascope::ui {
namespace {

// The widest a legend gets, as a share of its plot: a long name is cut (the tracer names the
// line) rather than squeezing the data.
constexpr double kMostOfThePlot = 0.5;
constexpr int kEntriesPerNotch = 3;
constexpr int kGap = 4;  // pixels between the frame and the plot's right edge

}  // namespace

void PlotLegend::scroll_by(int entries) {
  first_ = std::max(0, first_ + entries);  // the layout keeps the last entries in view
}

QString PlotLegend::overflow_text() const {
  if (shown_ >= itemCount()) return {};
  return QString("%1-%2 of %3, wheel scrolls")
      .arg(first_ + 1)
      .arg(first_ + shown_)
      .arg(itemCount());
}

int PlotLegend::note_height() const {
  return QFontMetrics(font()).height() + 4;
}

double PlotLegend::selectTest(const QPointF& pos, bool only_selectable, QVariant* details) const {
  // Only the framed part: the rest of the column beside the plot is empty.
  if (!box_.contains(pos.toPoint())) return -1;
  return QCPLegend::selectTest(pos, only_selectable, details);
}

QSize PlotLegend::minimumOuterSizeHint() const {
  if (!visible() || itemCount() == 0) return {0, 0};
  // One entry and the note high: the plot's height decides how many show, never the legend.
  int width = 0, height = 0;
  for (int i = 0; i < itemCount(); ++i) {
    const auto hint = item(i)->minimumOuterSizeHint();
    width = std::max(width, hint.width());
    height = std::max(height, hint.height());
  }
  const int plot_height = parentPlot() ? parentPlot()->height() : 0;
  if (itemCount() * (height + rowSpacing()) > plot_height / 2) {
    // Possibly more than fit: room for the note too.
    width = std::max(width, QFontMetrics(font()).horizontalAdvance(
                                QString("%1-%1 of %1, wheel scrolls").arg(itemCount())));
  }
  if (parentPlot()) {
    width =
        std::min(width, std::max(120, static_cast<int>(parentPlot()->width() * kMostOfThePlot)));
  }
  const auto m = margins();
  return {width + m.left() + m.right() + kGap, height + note_height() + m.top() + m.bottom()};
}

void PlotLegend::updateLayout() {
  const int count = itemCount();
  const QRect area = rect().adjusted(0, 0, -kGap, 0);
  int row = 0;
  for (int i = 0; i < count; ++i) row = std::max(row, item(i)->minimumOuterSizeHint().height());
  const int pitch = row + rowSpacing();
  shown_ = count;
  if (count * pitch - rowSpacing() > area.height()) {
    // More than fit: as many as fit above the note, from first_ on.
    shown_ =
        std::clamp((area.height() - note_height() + rowSpacing()) / std::max(1, pitch), 1, count);
  }
  first_ = std::clamp(first_, 0, count - shown_);
  int y = area.top();
  for (int i = 0; i < count; ++i) {
    auto* entry = item(i);
    const bool in_view = i >= first_ && i < first_ + shown_;
    entry->setVisible(in_view);
    entry->setOuterRect(in_view ? QRect(area.left(), y, area.width(), row) : QRect());
    if (in_view) y += pitch;
  }
  const int bottom = y - rowSpacing() + (shown_ < count ? note_height() : 0);
  box_ = count == 0 ? QRect()
                    : QRect(outerRect().topLeft(),
                            QPoint(outerRect().right() - kGap, bottom + margins().bottom()));
}

void PlotLegend::draw(QCPPainter* painter) {
  if (itemCount() == 0) return;  // no empty box
  painter->setBrush(getBrush());
  painter->setPen(getBorderPen());
  painter->drawRect(box_);
  const auto note = overflow_text();
  if (note.isEmpty()) return;
  painter->setFont(font());
  painter->setPen(QColor(110, 110, 110));
  const QRect line(rect().left(), box_.bottom() - margins().bottom() - note_height() + 2,
                   rect().width() - kGap, note_height());
  painter->drawText(line, Qt::AlignLeft | Qt::AlignVCenter, note);
}

void PlotLegend::wheelEvent(QWheelEvent* event) {
  const int delta = event->angleDelta().y();
  if (shown_ >= itemCount() || delta == 0) {
    event->ignore();  // nothing to scroll
    return;
  }
  // A notch up shows earlier entries; a touchpad's small turns count as a notch.
  const int notches = delta / 120 != 0 ? delta / 120 : (delta > 0 ? 1 : -1);
  scroll_by(-notches * kEntriesPerNotch);
  event->accept();
  if (parentPlot()) parentPlot()->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace replicascope::ui
