// SPDX-License-Identifier: GPL-3.0-or-later
// The Findings dock's rows, one per finding in the rules' order (errors first, then warnings and
// notes, each by first step): its severity (a coloured word and dot), kind, where (layer and
// call, copies or ranks, channels), since when (first step - last step) and the evidence; why it
// matters and what to do as every cell's tooltip. The texts are the status bar's and the plots'
// too (severity_colour, findings_count_text).
#pragma once

#include <QAbstractTableModel>
#include <QColor>
#include <QIcon>
#include <QString>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "replicascope/diagnose/finding.h"

namespace replicascope::ui {

// The colour a severity is said in: red for errors, orange for warnings, blue-grey for notes.
QColor severity_colour(diagnose::Severity severity);
// A dot of that colour.
QIcon severity_icon(diagnose::Severity severity);
// "1 error, 2 warnings, 1 note"; "" for none.
QString findings_count_text(const std::vector<diagnose::Finding>& findings);
// Where a finding is: "features.1 (call 2 of 2), copy 1, copy 3, channels 0, 5"; "the loss" for
// the loss's findings. `calls`: how many times its layer is called a step (1: once, or unknown).
QString finding_where_text(const diagnose::Finding& finding, int64_t calls);
// Since when: "steps 10-40", "step 7".
QString finding_steps_text(const diagnose::Finding& finding);
// The finding said whole, as rich text: what, where, the evidence, why it matters, what to do.
QString finding_details_html(const diagnose::Finding& finding, int64_t calls);
// The same finding (kind, layer, call and series), perhaps grown since (steps, severity,
// evidence).
bool same_place(const diagnose::Finding& a, const diagnose::Finding& b);

class FindingsModel : public QAbstractTableModel {
 public:
  enum Column { kSeverity, kKind, kWhere, kSteps, kEvidence, kColumnCount };

  using QAbstractTableModel::QAbstractTableModel;
  // The findings now; `call_counts`: the layers called more than once a step, with how many
  // times. The same findings grown keep their rows (a view's selection stays).
  void set_findings(std::vector<diagnose::Finding> findings,
                    std::map<std::string, int64_t> call_counts);
  const std::vector<diagnose::Finding>& findings() const { return findings_; }
  // How many times `layer` is called a step (1: once, or not known).
  int64_t calls(const std::string& layer) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  QString text(const diagnose::Finding& finding, int column) const;
  std::vector<diagnose::Finding> findings_;
  std::map<std::string, int64_t> call_counts_;
};

}  // namespace replicascope::ui
