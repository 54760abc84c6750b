// SPDX-License-Identifier: GPL-3.0-or-later
// File > New session: every choice of `replicascope-cli train`, with the same spelling (data
// specs, image shapes), checked by core's own parser. Start asks for the session and the dialog
// stays open, with the user's fields, until it opened: an error, of the fields or of the open
// (a device list, data files, a model that cannot take the data), is said in the dialog. Fields
// the data does not take are disabled and left out. Each model's last choices are remembered
// (QSettings, keyed by the model's path or "demo").
#pragma once

#include <QDialog>

#include <optional>

#include "replicascope/engine/session_spec.h"

class QCheckBox;
class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace replicascope::ui {

class SessionDialog : public QDialog {
  Q_OBJECT
 public:
  // Shows `spec` (a model's remembered choices when it has some).
  explicit SessionDialog(const engine::SessionSpec& spec, QWidget* parent = nullptr);

  // The choices as a spec; throws UsageError saying which field is wrong and why.
  engine::SessionSpec spec() const;
  // Fills the fields from `spec`.
  void show_spec(const engine::SessionSpec& spec);
  // What is wrong with the fields ("" when OK to start).
  QString problem() const { return problem_; }
  // A note above the fields: why the dialog shows (a model that cannot take the data) and
  // that its fields hold a proposal.
  void set_notice(const QString& text);
  QString notice() const;

  // Start: a problem with the fields is said and the dialog stays; else startRequested asks for
  // the session, and Start waits (disabled) for session_opened or session_failed.
  void accept() override;
  bool starting() const { return starting_; }
  // The session asked for opened: the dialog closes, accepted.
  void session_opened();
  // It failed: `what` is said under the fields, which stay as they were, or hold `proposal`
  // (data the model can take; the notice says so). Start can be pressed again.
  void session_failed(const QString& what,
                      const std::optional<engine::SessionSpec>& proposal = std::nullopt);

 signals:
  void startRequested(const replicascope::engine::SessionSpec& spec);

 private:
  // The form's rows, in the order shown: the model and its output (which element of a tuple
  // forward() returns); the data, its image shape and classes; the
  // loss, optimizer, learning rate, weight decay and seed; the devices, batch and BatchNorm.
  void add_model_row(QFormLayout& form);
  void add_data_rows(QFormLayout& form);
  void add_training_rows(QFormLayout& form);
  void add_copies_rows(QFormLayout& form);
  void build_messages();  // the notice above the form and the error below it, hidden
  void name_fields();
  // Enables the image shape and class count for the data that takes them.
  void show_applicable_fields();
  void show_problem(const QString& what);
  void set_starting(bool on);  // Start off ("Starting...") while the session opens

  QLineEdit* model_ = nullptr;
  QLineEdit* output_ = nullptr;
  QComboBox* data_ = nullptr;
  QLineEdit* image_ = nullptr;
  QSpinBox* classes_ = nullptr;
  QComboBox* loss_ = nullptr;
  QComboBox* optimizer_ = nullptr;
  QLineEdit* lr_ = nullptr;
  QLineEdit* weight_decay_ = nullptr;
  QSpinBox* seed_ = nullptr;
  QLineEdit* devices_ = nullptr;
  QSpinBox* batch_ = nullptr;
  QCheckBox* synchronized_ = nullptr;
  QLabel* error_ = nullptr;
  QLabel* notice_ = nullptr;
  QPushButton* start_ = nullptr;
  QString problem_;
  bool starting_ = false;      // asked for the session, waiting for it to open or fail
  engine::SessionSpec shown_;  // what the dialog does not ask for comes from here
};

// A model's remembered choices ("" for the demo), or `fallback` with that model when it has none.
engine::SessionSpec remembered_session(const std::string& model,
                                       const engine::SessionSpec& fallback);
// Remembers a session's choices for its model.
void remember_session(const engine::SessionSpec& spec);

}  // namespace replicascope::ui
