// SPDX-License-Identifier: GPL-3.0-or-later
// Models whose forward() returns a tuple, in the GUI (issue 30, section 1): the New session
// dialog's output field goes through core's parser (its errors said in the dialog, which stays),
// the class count defaults to the model's outputs, and the element a session trains on is said
// once in the status bar as it opens.
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStatusBar>
#include <QTest>

#include "session/session_context.h"
#include "ui_tests.h"
#include "window/main_window.h"
#include "window/session_dialog.h"

using namespace replicascope;
using namespace replicascope::ui;

void UiViewsTest::theSessionDialogTakesAnOutput() {
  engine::SessionSpec start;
  start.model = "/models/googlenet.pt";
  start.data = "synthetic";
  start.output = "logits";
  SessionDialog dialog(start);
  QSignalSpy start_requested(&dialog, &SessionDialog::startRequested);
  auto* output = dialog.findChild<QLineEdit*>("output");
  auto* model = dialog.findChild<QLineEdit*>("model");
  QVERIFY(output && model);
  QCOMPARE(output->text(), QString("logits"));
  QCOMPARE(dialog.findChild<QSpinBox*>("classes")->specialValueText(),
           QString("auto (the model's outputs)"));
  // A value that is neither a number nor a name: said in the dialog, which stays open.
  output->setText("-1");
  dialog.accept();
  QVERIFY2(dialog.problem().contains("--output expects auto, an element's number (0, 1, ...) or "
                                     "a field's name (logits), got '-1'"),
           qPrintable(dialog.problem()));
  QVERIFY(!dialog.findChild<QLabel*>("problem")->isHidden());
  QCOMPARE(dialog.result(), int(QDialog::Rejected));
  QCOMPARE(start_requested.count(), 0);
  // The demo returns one tensor: an output is for a model file.
  output->setText("aux");
  model->clear();
  dialog.accept();
  QVERIFY2(dialog.problem().contains("--output aux: the demo CNN returns one tensor"),
           qPrintable(dialog.problem()));
  QCOMPARE(start_requested.count(), 0);
  model->setText("/models/googlenet.pt");
  output->setText(" 1 ");
  QCOMPARE(dialog.spec().output, std::string("1"));
  output->clear();
  QCOMPARE(dialog.spec().output, std::string());  // auto
  QCOMPARE(dialog.spec().classes, int64_t{0});    // auto: the model's outputs
  output->setText("aux");
  dialog.accept();
  QCOMPARE(dialog.problem(), QString());
  QCOMPARE(start_requested.count(), 1);
  QCOMPARE(dialog.spec().output, std::string("aux"));
}

void UiEngineTest::aTupleOutputIsSaidOnceInTheStatusBar() {
  MainWindow window;
  window.configure("cpu:2", 4, /*synthetic=*/true, false);
  QPointer<SessionDialog> dialog = window.ask_new_session(fixture("named_output.pt"));
  QVERIFY(dialog);
  dialog->findChild<QComboBox*>("data")->setCurrentText("synthetic");
  dialog->findChild<QLineEdit*>("image")->setText("16");
  dialog->findChild<QSpinBox*>("classes")->setValue(0);
  dialog->findChild<QLineEdit*>("output")->setText("aux");
  QSignalSpy opened(&window.context(), &SessionContext::opened);
  dialog->accept();
  QVERIFY(opened.wait(kWaitMs));
  QCOMPARE(window.statusBar()->currentMessage(),
           QString("model: forward() returns Outputs; training on element 1 'aux' [2, 3] (--output "
                   "picks another)"));
  // The demo (its own sample shape) leaves the other model's output behind, and has nothing to
  // say: its session clears the message.
  auto spec = window.session_spec();
  QCOMPARE(spec.output, std::string("aux"));
  spec.image.clear();
  window.set_session_spec(spec);
  window.open_demo();
  QVERIFY(opened.wait(kWaitMs));
  QCOMPARE(window.statusBar()->currentMessage(), QString());
}
