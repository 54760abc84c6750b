// SPDX-License-Identifier: GPL-3.0-or-later
#include "itemmodels/findings_model.h"

#include <QPainter>
#include <QPixmap>
#include <algorithm>

#include "history/divergence_history.h"

namespace replicascope::ui {
namespace {

using diagnose::Finding;
using diagnose::Severity;

constexpr size_t kMostChannelsSaid = 8;  // a row lists this many channels, then counts the rest

QString channels_text(const std::vector<int64_t>& channels) {
  QStringList said;
  for (size_t i = 0; i < channels.size() && i < kMostChannelsSaid; ++i)
    said << QString::number(channels[i]);
  auto text = (channels.size() == 1 ? "channel " : "channels ") + said.join(", ");
  if (channels.size() > kMostChannelsSaid)
    text += QString(" (+%1 more)").arg(channels.size() - kMostChannelsSaid);
  return text;
}

}  // namespace

QColor severity_colour(Severity severity) {
  switch (severity) {
    case Severity::kError:
      return QColor(192, 0, 0);
    case Severity::kWarning:
      return QColor(214, 120, 0);
    case Severity::kNote:
      break;
  }
  return QColor(70, 110, 160);
}

QIcon severity_icon(Severity severity) {
  QPixmap dot(14, 14);
  dot.fill(Qt::transparent);
  QPainter painter(&dot);
  painter.setRenderHint(QPainter::Antialiasing);
  painter.setPen(Qt::NoPen);
  painter.setBrush(severity_colour(severity));
  painter.drawEllipse(QRectF(1.5, 1.5, 11, 11));
  return QIcon(dot);
}

QString findings_count_text(const std::vector<Finding>& findings) {
  QStringList parts;
  for (const auto severity : {Severity::kError, Severity::kWarning, Severity::kNote}) {
    const auto count = std::count_if(findings.begin(), findings.end(),
                                     [&](const Finding& f) { return f.severity == severity; });
    if (count == 0) continue;
    parts << QString("%1 %2%3").arg(count).arg(diagnose::severity_name(severity),
                                               count == 1 ? "" : "s");
  }
  return parts.join(", ");
}

QString finding_where_text(const Finding& finding, int64_t calls) {
  QStringList parts;
  if (!finding.layer.empty()) {
    parts << LayerCall{finding.layer, finding.sync_point, std::max(calls, finding.sync_point + 1)}
                 .name();
  } else if (finding.kind == "loss-explodes" || finding.kind == "nonfinite") {
    parts << "the loss";  // a loss that went first, before any statistic
  }
  for (const auto& key : finding.series) parts << QString::fromStdString(key.label());
  if (!finding.channels.empty()) parts << channels_text(finding.channels);
  return parts.isEmpty() ? QString("every layer") : parts.join(", ");
}

QString finding_steps_text(const Finding& finding) {
  if (finding.first_step == finding.last_step) return QString("step %1").arg(finding.first_step);
  return QString("steps %1-%2").arg(finding.first_step).arg(finding.last_step);
}

QString finding_details_html(const Finding& finding, int64_t calls) {
  const auto html = [](const std::string& text) {
    return QString::fromStdString(text).toHtmlEscaped();
  };
  return QString(
             "<b style='color:%1'>%2</b> <b>[%3]</b> %4, %5: %6<br><b>Why it matters:</b> "
             "%7<br><b>What to do:</b> %8")
      .arg(severity_colour(finding.severity).name(), diagnose::severity_name(finding.severity),
           html(finding.kind), finding_where_text(finding, calls).toHtmlEscaped(),
           finding_steps_text(finding), html(finding.evidence), html(finding.why),
           html(finding.what_to_do));
}

bool same_place(const Finding& a, const Finding& b) {
  return a.kind == b.kind && a.layer == b.layer && a.sync_point == b.sync_point &&
         a.series == b.series;
}

void FindingsModel::set_findings(std::vector<Finding> findings,
                                 std::map<std::string, int64_t> call_counts) {
  const bool same_rows =
      findings.size() == findings_.size() &&
      std::equal(findings.begin(), findings.end(), findings_.begin(), same_place);
  if (!same_rows) beginResetModel();
  findings_ = std::move(findings);
  call_counts_ = std::move(call_counts);
  if (!same_rows) {
    endResetModel();
  } else if (!findings_.empty()) {
    // The same findings, grown: the rows stay (and a view's selection with them).
    emit dataChanged(index(0, 0), index(rowCount() - 1, kColumnCount - 1));
  }
}

int64_t FindingsModel::calls(const std::string& layer) const {
  const auto found = call_counts_.find(layer);
  return found == call_counts_.end() ? 1 : found->second;
}

int FindingsModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(findings_.size());
}

int FindingsModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kColumnCount;
}

QString FindingsModel::text(const Finding& finding, int column) const {
  switch (column) {
    case kSeverity:
      return diagnose::severity_name(finding.severity);
    case kKind:
      return QString::fromStdString(finding.kind);
    case kWhere:
      return finding_where_text(finding, calls(finding.layer));
    case kSteps:
      return finding_steps_text(finding);
    case kEvidence:
      return QString::fromStdString(finding.evidence);
    default:
      return {};
  }
}

QVariant FindingsModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const auto& finding = findings_[static_cast<size_t>(index.row())];
  switch (role) {
    case Qt::DisplayRole:
      return text(finding, index.column());
    case Qt::ToolTipRole:
      return finding_details_html(finding, calls(finding.layer));
    case Qt::ForegroundRole:
      if (index.column() == kSeverity) return severity_colour(finding.severity);
      return {};
    case Qt::DecorationRole:
      if (index.column() == kSeverity) return severity_icon(finding.severity);
      return {};
    default:
      return {};
  }
}

QVariant FindingsModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* const names[kColumnCount] = {"Severity", "Kind", "Where", "Steps", "Evidence"};
  return section >= 0 && section < kColumnCount ? QString(names[section]) : QVariant();
}

}  // namespace replicascope::ui
