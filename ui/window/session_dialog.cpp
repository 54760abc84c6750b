// SPDX-License-Identifier: GPL-3.0-or-later
#include "window/session_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>
#include <algorithm>
#include <limits>

#include "controller/engine_types.h"
#include "window/error_dialog.h"

namespace replicascope::ui {
namespace {

QString settings_key(const std::string& model) {
  // QSettings keys cannot hold '/' as data: the path is kept as hex.
  return "sessions/" +
         QString::fromLatin1(QByteArray::fromStdString(model.empty() ? "demo" : model).toHex());
}

QString number(double value) {
  return QString::number(value, 'g', 10);
}

QString sizes_text(const std::vector<int64_t>& sizes) {
  QStringList parts;
  for (auto s : sizes) parts << QString::number(s);
  return parts.join(',');
}

// What the data takes besides itself: synthetic data a sample shape and a class count, an image
// folder a shape (its images are scaled to it); other data has both in its files.
struct DataTakes {
  bool image = false;
  bool classes = false;
};

DataTakes data_takes(QString data) {
  data = data.trimmed();
  if (data.isEmpty()) data = QString::fromStdString(engine::default_data_spec());
  const bool synthetic = data == "synthetic";
  return {synthetic || data.startsWith("imagefolder:"), synthetic};
}

}  // namespace

SessionDialog::SessionDialog(const engine::SessionSpec& spec, QWidget* parent) : QDialog(parent) {
  setWindowTitle("New session");
  auto* form = new QFormLayout;
  add_model_row(*form);
  add_data_rows(*form);
  add_training_rows(*form);
  add_copies_rows(*form);
  build_messages();
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  start_ = buttons->button(QDialogButtonBox::Ok);
  start_->setText("Start");
  connect(buttons, &QDialogButtonBox::accepted, this, &SessionDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &SessionDialog::reject);
  name_fields();
  connect(data_, &QComboBox::currentTextChanged, this, &SessionDialog::show_applicable_fields);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(notice_);
  layout->addLayout(form);
  layout->addWidget(error_);
  layout->addWidget(buttons);
  show_spec(spec);
}

void SessionDialog::add_model_row(QFormLayout& form) {
  model_ = new QLineEdit;
  model_->setPlaceholderText("(the built-in demo CNN, 1x28x28 input)");
  auto* browse = new QPushButton("Browse...");
  connect(browse, &QPushButton::clicked, this, [this] {
    const auto path =
        QFileDialog::getOpenFileName(this, "A TorchScript model", {}, "TorchScript (*.pt *.pth)");
    if (!path.isEmpty()) model_->setText(path);
  });
  auto* model_row = new QHBoxLayout;
  model_row->addWidget(model_, 1);
  model_row->addWidget(browse);
  form.addRow("model", model_row);
  output_ = new QLineEdit;
  output_->setPlaceholderText("auto: the first [batch, classes] tensor");
  output_->setToolTip(
      "which element of the tuple, named tuple or list that the model's forward() returns holds\n"
      "the scores per class: a number (0, 1, ...) or a named tuple's field (logits). Empty: the\n"
      "first [batch, classes] tensor (a model that returns a tensor needs none).");
  form.addRow("output", output_);
}

void SessionDialog::add_data_rows(QFormLayout& form) {
  data_ = new QComboBox;
  data_->setEditable(true);
  data_->addItems({"", "fashion-mnist", "synthetic", "idx:IMAGES,LABELS", "cifar10:FILE[,FILE...]",
                   "imagefolder:DIR"});
  data_->setToolTip(
      "empty: fashion-mnist when installed, synthetic otherwise; idx:IMAGES,LABELS (MNIST format,\n"
      ".gz or plain); cifar10:FILE[,FILE...] (binary batches); imagefolder:DIR "
      "(DIR/CLASS/NAME.png\n"
      "or .jpg, as torchvision's ImageFolder); synthetic (of the image shape and classes)");
  auto* folder = new QPushButton("Folder...");
  folder->setToolTip("an image folder: one subfolder per class, holding PNG or JPEG images");
  connect(folder, &QPushButton::clicked, this, [this] {
    const auto dir = QFileDialog::getExistingDirectory(this,
                                                       "An image folder (one subfolder per "
                                                       "class)");
    if (!dir.isEmpty()) data_->setCurrentText("imagefolder:" + dir);
  });
  auto* data_row = new QHBoxLayout;
  data_row->addWidget(data_, 1);
  data_row->addWidget(folder);
  form.addRow("data", data_row);
  image_ = new QLineEdit;
  image_->setToolTip(
      "one sample's shape, no batch size: synthetic samples' C,H,W (2d), or F (features, for a\n"
      "model that starts with a Linear), C,L (BatchNorm1d), C,T,H,W (3d); an image folder's:\n"
      "C,H,W with C 1 or 3, each image scaled to cover H,W and cropped at the centre.\n"
      "Other data has its own shape (the field is off for it).");
  form.addRow("image shape", image_);
  classes_ = new QSpinBox;
  classes_->setRange(0, 1 << 20);
  classes_->setSpecialValueText("auto (the model's outputs)");
  classes_->setToolTip(
      "synthetic data's classes (auto: as many as the model has outputs; 10 for the demo);\n"
      "other data has its own labels (off for it)");
  form.addRow("classes", classes_);
}

void SessionDialog::add_training_rows(QFormLayout& form) {
  loss_ = new QComboBox;
  loss_->addItems({"ce", "mse"});
  loss_->setToolTip("ce: cross-entropy; mse: on one-hot targets");
  form.addRow("loss", loss_);
  optimizer_ = new QComboBox;
  optimizer_->addItems({"sgd", "adam"});
  form.addRow("optimizer", optimizer_);
  lr_ = new QLineEdit;
  lr_->setPlaceholderText(QString("%1 for sgd, %2 for adam")
                              .arg(engine::kDefaultSgdLearningRate)
                              .arg(engine::kDefaultAdamLearningRate));
  form.addRow("learning rate", lr_);
  weight_decay_ = new QLineEdit;
  weight_decay_->setPlaceholderText("0");
  form.addRow("weight decay", weight_decay_);
  seed_ = new QSpinBox;
  seed_->setRange(0, std::numeric_limits<int>::max());
  form.addRow("seed", seed_);
}

void SessionDialog::add_copies_rows(QFormLayout& form) {
  devices_ = new QLineEdit;
  devices_->setToolTip("copies: cpu:N, or cuda:I,J");
  form.addRow("devices", devices_);
  batch_ = new QSpinBox;
  batch_->setRange(1, 1 << 20);
  batch_->setToolTip("the whole batch, split over the copies");
  form.addRow("batch", batch_);
  synchronized_ = new QCheckBox("synchronized BatchNorm (untick: per-copy, to compare)");
  form.addRow("", synchronized_);
}

void SessionDialog::build_messages() {
  error_ = new QLabel;
  error_->setObjectName("problem");
  error_->setWordWrap(true);
  error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  error_->setStyleSheet("QLabel { color: #b00020; }");
  error_->setVisible(false);
  notice_ = new QLabel;
  notice_->setWordWrap(true);
  notice_->setObjectName("notice");
  notice_->setVisible(false);
}

void SessionDialog::name_fields() {
  // Named as the CLI's flags (tests and accessibility find them by it).
  const std::pair<QWidget*, const char*> names[] = {{model_, "model"},
                                                    {output_, "output"},
                                                    {data_, "data"},
                                                    {image_, "image"},
                                                    {classes_, "classes"},
                                                    {loss_, "loss"},
                                                    {optimizer_, "optimizer"},
                                                    {lr_, "lr"},
                                                    {weight_decay_, "weight-decay"},
                                                    {seed_, "seed"},
                                                    {devices_, "devices"},
                                                    {batch_, "batch"},
                                                    {synchronized_, "synchronized"}};
  for (const auto& [widget, name] : names) widget->setObjectName(name);
}

void SessionDialog::show_spec(const engine::SessionSpec& spec) {
  shown_ = spec;
  model_->setText(QString::fromStdString(spec.model));
  output_->setText(QString::fromStdString(spec.output));
  data_->setCurrentText(QString::fromStdString(spec.data));
  image_->setText(sizes_text(spec.image));
  classes_->setValue(static_cast<int>(spec.classes));
  loss_->setCurrentIndex(spec.loss == engine::LossKind::kMse ? 1 : 0);
  optimizer_->setCurrentIndex(spec.optimizer == engine::OptimizerKind::kAdam ? 1 : 0);
  lr_->setText(spec.learning_rate ? number(*spec.learning_rate) : QString());
  weight_decay_->setText(spec.weight_decay != 0 ? number(spec.weight_decay) : QString());
  seed_->setValue(static_cast<int>(spec.seed));
  devices_->setText(QString::fromStdString(spec.devices));
  batch_->setValue(static_cast<int>(spec.batch));
  synchronized_->setChecked(spec.synchronized);
  show_applicable_fields();
}

void SessionDialog::show_applicable_fields() {
  // Off, not cleared: the values come back with data that takes them, and never block Start.
  const auto takes = data_takes(data_->currentText());
  const bool folder = data_->currentText().trimmed().startsWith("imagefolder:");
  image_->setEnabled(takes.image);
  image_->setPlaceholderText(!takes.image ? QString("the data's own")
                             : folder     ? QString("C,H,W, C 1 or 3 (empty: the first image's)")
                                          : QString("C,H,W (empty: 1,28,28)"));
  classes_->setEnabled(takes.classes);
}

engine::SessionSpec SessionDialog::spec() const {
  // Through core's parser, as the CLI's flags go: the same checks and the same messages. What
  // the dialog does not ask for (--stop-on-nonfinite, --detail-steps, ...) stays as it was.
  const engine::SessionSpec defaults;
  auto spec = shown_;
  spec.model = defaults.model;
  spec.output = defaults.output;
  spec.data = defaults.data;
  spec.image = defaults.image;
  spec.classes = defaults.classes;
  spec.loss = defaults.loss;
  spec.optimizer = defaults.optimizer;
  spec.learning_rate = defaults.learning_rate;
  spec.weight_decay = defaults.weight_decay;
  spec.seed = defaults.seed;
  spec.devices = defaults.devices;
  spec.batch = defaults.batch;
  spec.synchronized = defaults.synchronized;
  const auto set = [&spec](const char* flag, const QString& value) {
    if (!value.trimmed().isEmpty())
      engine::set_session_flag(spec, flag, value.trimmed().toStdString());
  };
  set("model", model_->text());
  set("output", output_->text());
  set("data", data_->currentText());
  const auto takes = data_takes(data_->currentText());
  if (takes.image) set("image", image_->text());
  if (takes.classes && classes_->value() > 0) set("classes", QString::number(classes_->value()));
  set("loss", loss_->currentText());
  set("optimizer", optimizer_->currentText());
  set("lr", lr_->text());
  set("weight-decay", weight_decay_->text());
  set("seed", QString::number(seed_->value()));
  set("devices", devices_->text());
  set("batch", QString::number(batch_->value()));
  if (!synchronized_->isChecked()) set("unsync", "1");
  engine::check_session_spec(spec);
  return spec;
}

void SessionDialog::set_notice(const QString& text) {
  notice_->setText(text);
  notice_->setVisible(!text.isEmpty());
}

QString SessionDialog::notice() const {
  return notice_->text();
}

void SessionDialog::accept() {
  engine::SessionSpec chosen;
  try {
    chosen = spec();
  } catch (const std::exception& e) {
    show_problem(QString::fromUtf8(e.what()));
    return;
  }
  show_problem({});
  set_starting(true);
  emit startRequested(chosen);
}

void SessionDialog::set_starting(bool on) {
  starting_ = on;
  start_->setEnabled(!on);
  start_->setText(on ? "Starting..." : "Start");
  // Disabled, Start lost the focus to Cancel: Enter would cancel what the user tries again.
  if (!on) start_->setFocus();
}

void SessionDialog::session_opened() {
  set_starting(false);
  QDialog::accept();
}

void SessionDialog::session_failed(const QString& what,
                                   const std::optional<engine::SessionSpec>& proposal) {
  set_starting(false);
  if (proposal) {
    show_spec(*proposal);
    set_notice(what + "\n\nThe fields below hold data the model can take.");
    show_problem({});
  } else {
    show_problem(what);
  }
}

void SessionDialog::show_problem(const QString& what) {
  problem_ = what;
  // A traceback's summary; the whole text is the tooltip.
  error_->setText(summarize_error(what).summary);
  error_->setToolTip(what);
  error_->setVisible(!what.isEmpty());
}

engine::SessionSpec remembered_session(const std::string& model,
                                       const engine::SessionSpec& fallback) {
  auto spec = fallback;
  if (model != fallback.model) spec.output.clear();  // the element of another model's tuple
  spec.model = model;
  const auto flags = QSettings().value(settings_key(model)).toStringList();
  if (flags.isEmpty()) return spec;
  engine::SessionSpec remembered;
  try {
    remembered = session_from_flags(flags);
  } catch (const std::exception&) {
    return spec;  // settings of an older version: the current choices instead
  }
  remembered.model = model;
  return remembered;
}

void remember_session(const engine::SessionSpec& spec) {
  auto kept = spec;
  kept.model.clear();  // the key says it
  kept.run.clear();
  QSettings().setValue(settings_key(spec.model), session_flags_of(kept));
}

}  // namespace replicascope::ui
