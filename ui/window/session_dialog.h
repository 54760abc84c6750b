// File > New session: every choice of `replicascope-cli train`, with the same spelling (data
// specs, image shapes), checked by core's own parser before the dialog closes. Each model's last
// choices are remembered (QSettings, keyed by the model's path or "demo").
#pragma once

#include <QDialog>

#include "replicascope/engine/session_spec.h"

class QCheckBox;
class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
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
  // A note above the buttons: why the dialog shows (a model that cannot take the data) and
  // that its fields hold a proposal.
  void set_notice(const QString& text);
  QString notice() const;

  void accept() override;

 private:
  // The form's rows, in the order shown: the model; the data, its image shape and classes; the
  // loss, optimizer, learning rate, weight decay and seed; the devices, batch and BatchNorm.
  void add_model_row(QFormLayout& form);
  void add_data_rows(QFormLayout& form);
  void add_training_rows(QFormLayout& form);
  void add_copies_rows(QFormLayout& form);
  void build_messages();  // the notice above the form and the error below it, hidden
  void name_fields();

  QLineEdit* model_ = nullptr;
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
  QString problem_;
  engine::SessionSpec shown_;  // what the dialog does not ask for comes from here
};

// A model's remembered choices ("" for the demo), or `fallback` with that model when it has none.
engine::SessionSpec remembered_session(const std::string& model,
                                       const engine::SessionSpec& fallback);
// Remembers a session's choices for its model.
void remember_session(const engine::SessionSpec& spec);

}  // namespace replicascope::ui
