// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/findings_panel.h"

#include <QDockWidget>
#include <QHeaderView>
#include <QLabel>
#include <QTableView>
#include <QVBoxLayout>
#include <algorithm>
#include <map>
#include <utility>

#include "replicascope/diagnose/diagnosis.h"
#include "session/session_context.h"

namespace replicascope::ui {
namespace {

// "not checked (not recorded in this run): rank-buffers-differ, running-stats-lag, ...": the
// kinds of one reason together.
QString not_checked_text(const std::vector<diagnose::NotChecked>& not_checked) {
  std::map<std::string, QStringList> by_why;
  for (const auto& kind : not_checked) by_why[kind.why] << QString::fromStdString(kind.kind);
  QStringList lines;
  for (const auto& [why, kinds] : by_why) {
    lines << QString("not checked (%1): %2").arg(QString::fromStdString(why), kinds.join(", "));
  }
  return lines.join("\n");
}

QString summary_of(const FindingsReport& report) {
  if (!report.error.isEmpty()) return "Could not check this run: " + report.error;
  if (!report.checked) {
    return report.live ? QString("No steps yet: the rules check every step as the session trains.")
                       : QString("Checking the run...");
  }
  const auto steps = QString("%1 step%2").arg(report.steps).arg(report.steps == 1 ? "" : "s");
  if (report.findings.empty())
    return QString("No findings in %1: nothing the rules check looks wrong.").arg(steps);
  return QString("%1 in %2: click one to go to its layer and steps.")
      .arg(findings_count_text(report.findings), steps);
}

}  // namespace

FindingsPanel::FindingsPanel(SessionContext& context, QWidget* parent)
    : QWidget(parent), context_(context) {
  summary_ = new QLabel("No model open.");
  summary_->setWordWrap(true);
  table_ = new QTableView;
  table_->setModel(&model_);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setWordWrap(false);
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setStretchLastSection(true);  // the evidence takes what is left
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setSectionResizeMode(FindingsModel::kEvidence, QHeaderView::Stretch);
  details_ = new QLabel;
  details_->setWordWrap(true);
  details_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  not_checked_ = new QLabel;
  not_checked_->setWordWrap(true);
  not_checked_->setStyleSheet("color: #707070");
  auto* column = new QVBoxLayout(this);
  column->setContentsMargins(4, 4, 4, 4);
  column->addWidget(summary_);
  column->addWidget(table_, 1);
  column->addWidget(details_);
  column->addWidget(not_checked_);
  // A click goes to the finding, also to the one selected already (the views moved on since).
  connect(table_, &QAbstractItemView::clicked, this,
          [this](const QModelIndex& index) { context_.select_finding(index.row()); });
  connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            if (!showing_ && current.isValid()) context_.select_finding(current.row());
          });
  show_selected();
  context_.add_viewer(this);
}

FindingsPanel::~FindingsPanel() {
  context_.remove_viewer(this);
}

QString FindingsPanel::summary() const {
  return summary_->text();
}

QString FindingsPanel::details() const {
  return details_->text();
}

QString FindingsPanel::not_checked() const {
  return not_checked_->text();
}

void FindingsPanel::on_opened(const ModelSnapshot&) {
  came_forward_ = false;
}

void FindingsPanel::on_reset() {
  came_forward_ = false;
}

void FindingsPanel::on_findings_changed(const FindingsReport& report, const diagnose::Finding*) {
  model_.set_findings(report.findings, context_.history().call_counts());
  summary_->setText(summary_of(report));
  summary_->setStyleSheet(report.error.isEmpty() ? "" : "color: #c00000");
  not_checked_->setText(not_checked_text(report.not_checked));
  const bool worth_a_look = std::any_of(
      report.findings.begin(), report.findings.end(),
      [](const diagnose::Finding& f) { return f.severity != diagnose::Severity::kNote; });
  if (worth_a_look) come_forward();
  show_selected();
}

void FindingsPanel::on_finding_selected(const diagnose::Finding* finding) {
  if (finding) come_forward();
  show_selected();
}

void FindingsPanel::show_selected() {
  const int row = context_.selected_finding_index();
  showing_ = true;
  if (row < 0) {
    table_->clearSelection();
  } else if (table_->currentIndex().row() != row || !table_->selectionModel()->hasSelection()) {
    table_->selectRow(row);
  }
  showing_ = false;
  const auto* finding = context_.selected_finding();
  if (finding) table_->scrollTo(model_.index(row, 0));
  details_->setText(finding ? finding_details_html(*finding, model_.calls(finding->layer))
                    : model_.rowCount() > 0
                        ? QString("Select a finding for why it matters and what to do.")
                        : QString());
  details_->setVisible(!details_->text().isEmpty());
}

void FindingsPanel::come_forward() {
  if (std::exchange(came_forward_, true)) return;
  for (auto* up = parentWidget(); up; up = up->parentWidget()) {
    if (auto* dock = qobject_cast<QDockWidget*>(up)) {
      dock->raise();  // a dock tabbed with another shows its tab
      return;
    }
  }
}

}  // namespace replicascope::ui
