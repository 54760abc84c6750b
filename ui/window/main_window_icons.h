// SPDX-License-Identifier: GPL-3.0-or-later
// The debugger's icons: the application's, and one per menu and toolbar action. The desktop's
// icon theme wins where it has an icon of that meaning (QIcon::fromTheme); ours, drawn for the
// project in one style (resources/icons/, compiled into the GUI), are the fallback.
#pragma once

#include <QIcon>
#include <QString>

namespace replicascope::ui {

// The application's icon (window, task bar, About box); the theme's first, as the desktop
// entry names it.
QIcon application_icon();

// The icon of the action whose menu text is `text` ("&New session...": mnemonics and a trailing
// "..." are ignored); a null icon for an action that has none.
QIcon action_icon(const QString& text);

}  // namespace replicascope::ui
