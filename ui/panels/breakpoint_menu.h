// SPDX-License-Identifier: GPL-3.0-or-later
// The right-click menu of the panels that list modules: set or remove a breakpoint on the
// module's sync points, clear all.
#pragma once

class QAbstractItemView;

namespace replicascope::ui {

class SessionContext;

// The menu on right-click in `view`, whose items give the module's name under `module_role`.
void add_breakpoint_menu(SessionContext& context, QAbstractItemView* view, int module_role);

}  // namespace replicascope::ui
