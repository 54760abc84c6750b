// SPDX-License-Identifier: GPL-3.0-or-later
#include "panels/breakpoint_menu.h"

#include <QAbstractItemView>
#include <QMenu>

#include "session/session_context.h"

namespace replicascope::ui {

void add_breakpoint_menu(SessionContext& context, QAbstractItemView* view, int module_role) {
  view->setContextMenuPolicy(Qt::CustomContextMenu);
  QObject::connect(view, &QAbstractItemView::customContextMenuRequested, view,
                   [&context, view, module_role](const QPoint& at) {
                     const auto index = view->indexAt(at);
                     if (!index.isValid()) return;
                     const auto module = index.data(module_role).toString().toStdString();
                     QMenu menu;
                     const bool set = context.breakpoints().count(module) != 0;
                     auto* toggle = menu.addAction(set ? "Remove breakpoint"
                                                       : "Set breakpoint at this sync point");
                     toggle->setEnabled(context.live() && context.has_statistics(module));
                     auto* clear = menu.addAction("Clear all breakpoints");
                     auto* chosen = menu.exec(view->viewport()->mapToGlobal(at));
                     if (chosen == toggle) context.toggle_breakpoint(module);
                     if (chosen == clear) context.clear_breakpoints();
                   });
}

}  // namespace replicascope::ui
