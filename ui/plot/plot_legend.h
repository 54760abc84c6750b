// SPDX-License-Identifier: GPL-3.0-or-later
// The plots' legend: beside the plot, never over its data. It shows as many entries as fit the
// plot's height; when there are more (46 layers on the Divergence tab), a last line says which
// are shown ("1-20 of 46, wheel scrolls") and the mouse wheel over the legend scrolls them. A
// legend without entries, or hidden, takes no room and draws nothing.
#pragma once

#include <qcustomplot.h>

#include <QRect>
#include <QString>

namespace replicascope::ui {

class PlotLegend : public QCPLegend {
 public:
  PlotLegend() = default;

  // The first entry shown and how many are (all of them when they fit).
  int first_shown() const { return first_; }
  int shown_count() const { return shown_; }
  // Moves the entries shown by `entries` (positive: further down the list); the next layout
  // keeps them within the list.
  void scroll_by(int entries);
  // "1-20 of 46, wheel scrolls"; empty when every entry is shown.
  QString overflow_text() const;

  double selectTest(const QPointF& pos, bool only_selectable,
                    QVariant* details = nullptr) const override;
  QSize minimumOuterSizeHint() const override;
  // Any height: the column beside the plot is as tall as the plot, whatever the entries take
  // (a grid's maximum, the sum of its entries, would cap the plot's height at the legend's).
  QSize maximumOuterSizeHint() const override { return {QWIDGETSIZE_MAX, QWIDGETSIZE_MAX}; }
  void updateLayout() override;

 protected:
  void draw(QCPPainter* painter) override;
  void wheelEvent(QWheelEvent* event) override;

 private:
  int note_height() const;

  int first_ = 0;
  int shown_ = 0;
  QRect box_;  // what the shown entries and the note take, framed
};

}  // namespace replicascope::ui
