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

}  // namespace

SessionDialog::SessionDialog(const engine::SessionSpec& spec, QWidget* parent) : QDialog(parent) {
  setWindowTitle("New session");
  auto* form = new QFormLayout;
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
  form->addRow("model", model_row);
  data_ = new QComboBox;
  data_->setEditable(true);
  data_->addItems(
      {"", "fashion-mnist", "synthetic", "idx:IMAGES,LABELS", "cifar10:FILE[,FILE...]"});
  data_->setToolTip(
      "empty: fashion-mnist when installed, synthetic otherwise; idx:IMAGES,LABELS (MNIST format,\n"
      ".gz or plain); cifar10:FILE[,FILE...] (binary batches); synthetic (of the image shape)");
  form->addRow("data", data_);
  image_ = new QLineEdit;
  image_->setPlaceholderText("1,28,28");
  image_->setToolTip("synthetic samples' shape: C,L (BatchNorm1d), C,H,W (2d) or C,T,H,W (3d)");
  form->addRow("image shape", image_);
  loss_ = new QComboBox;
  loss_->addItems({"ce", "mse"});
  loss_->setToolTip("ce: cross-entropy; mse: on one-hot targets");
  form->addRow("loss", loss_);
  optimizer_ = new QComboBox;
  optimizer_->addItems({"sgd", "adam"});
  form->addRow("optimizer", optimizer_);
  lr_ = new QLineEdit;
  lr_->setPlaceholderText("0.05 for sgd, 0.001 for adam");
  form->addRow("learning rate", lr_);
  weight_decay_ = new QLineEdit;
  weight_decay_->setPlaceholderText("0");
  form->addRow("weight decay", weight_decay_);
  seed_ = new QSpinBox;
  seed_->setRange(0, std::numeric_limits<int>::max());
  form->addRow("seed", seed_);
  devices_ = new QLineEdit;
  devices_->setToolTip("copies: cpu:N, or cuda:I,J");
  form->addRow("devices", devices_);
  batch_ = new QSpinBox;
  batch_->setRange(1, 1 << 20);
  batch_->setToolTip("the whole batch, split over the copies");
  form->addRow("batch", batch_);
  synchronized_ = new QCheckBox("synchronized BatchNorm (untick: per-copy, to compare)");
  form->addRow("", synchronized_);
  error_ = new QLabel;
  error_->setWordWrap(true);
  error_->setStyleSheet("QLabel { color: #b00020; }");
  error_->setVisible(false);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  buttons->button(QDialogButtonBox::Ok)->setText("Start");
  connect(buttons, &QDialogButtonBox::accepted, this, &SessionDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &SessionDialog::reject);
  // Named as the CLI's flags (tests and accessibility find them by it).
  const std::pair<QWidget*, const char*> names[] = {{model_, "model"},
                                                    {data_, "data"},
                                                    {image_, "image"},
                                                    {loss_, "loss"},
                                                    {optimizer_, "optimizer"},
                                                    {lr_, "lr"},
                                                    {weight_decay_, "weight-decay"},
                                                    {seed_, "seed"},
                                                    {devices_, "devices"},
                                                    {batch_, "batch"},
                                                    {synchronized_, "synchronized"}};
  for (const auto& [widget, name] : names) widget->setObjectName(name);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(error_);
  layout->addWidget(buttons);
  show_spec(spec);
}

void SessionDialog::show_spec(const engine::SessionSpec& spec) {
  shown_ = spec;
  model_->setText(QString::fromStdString(spec.model));
  data_->setCurrentText(QString::fromStdString(spec.data));
  image_->setText(sizes_text(spec.image));
  loss_->setCurrentIndex(spec.loss == engine::LossKind::kMse ? 1 : 0);
  optimizer_->setCurrentIndex(spec.optimizer == engine::OptimizerKind::kAdam ? 1 : 0);
  lr_->setText(spec.learning_rate ? number(*spec.learning_rate) : QString());
  weight_decay_->setText(spec.weight_decay != 0 ? number(spec.weight_decay) : QString());
  seed_->setValue(static_cast<int>(spec.seed));
  devices_->setText(QString::fromStdString(spec.devices));
  batch_->setValue(static_cast<int>(spec.batch));
  synchronized_->setChecked(spec.synchronized);
}

engine::SessionSpec SessionDialog::spec() const {
  // Through core's parser, as the CLI's flags go: the same checks and the same messages. What
  // the dialog does not ask for (--stop-on-nonfinite, --detail-steps, ...) stays as it was.
  const engine::SessionSpec defaults;
  auto spec = shown_;
  spec.model = defaults.model;
  spec.data = defaults.data;
  spec.image = defaults.image;
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
  set("data", data_->currentText());
  set("image", image_->text());
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

void SessionDialog::accept() {
  try {
    spec();
    problem_.clear();
  } catch (const std::exception& e) {
    problem_ = QString::fromUtf8(e.what());
  }
  error_->setText(problem_);
  error_->setVisible(!problem_.isEmpty());
  if (problem_.isEmpty()) QDialog::accept();
}

engine::SessionSpec remembered_session(const std::string& model,
                                       const engine::SessionSpec& fallback) {
  auto spec = fallback;
  spec.model = model;
  const auto flags = QSettings().value(settings_key(model)).toStringList();
  if (flags.isEmpty()) return spec;
  engine::SessionSpec remembered;
  try {
    for (int i = 0; i < flags.size(); ++i) {
      const auto name = flags[i].mid(2).toStdString();  // "--data" -> "data"
      const auto& known = engine::session_flags();
      const auto flag = std::find_if(known.begin(), known.end(),
                                     [&](const engine::SpecFlag& f) { return f.name == name; });
      const bool takes_value = flag != known.end() && flag->takes_value && i + 1 < flags.size();
      engine::set_session_flag(remembered, name,
                               takes_value ? flags[++i].toStdString() : std::string());
    }
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
  QStringList flags;
  for (const auto& flag : engine::session_spec_flags(kept)) flags << QString::fromStdString(flag);
  QSettings().setValue(settings_key(spec.model), flags);
}

}  // namespace replicascope::ui
