// SPDX-License-Identifier: GPL-3.0-or-later
// The one interface every panel implements (RenderDoc's ICaptureViewer): what happened to the
// session. SessionContext calls the registered viewers on the UI thread, in the order they were
// registered, after it has updated its own state (snapshot, history, selection), so a viewer may
// read the context from inside a call. Every call defaults to nothing: a panel overrides what it
// shows. A panel that changes something (a selection, a breakpoint) asks the context, which then
// tells every viewer, the asking one included.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "controller/engine_types.h"

namespace replicascope::ui {

class SessionViewer {
 public:
  virtual ~SessionViewer() = default;

  // A live session or a recorded run was opened (replacing what was open before).
  virtual void on_opened(const ModelSnapshot&) {}
  // A live session finished a training step (the context's history already holds it).
  virtual void on_stepped(const replicascope::StepRecord&) {}
  // The open recorded run grew: another process is writing it (the snapshot has its steps now).
  virtual void on_run_grew(const ModelSnapshot&) {}
  // The steps of the live session's run that kept every channel, read now and then as it trains
  // (the Per-channel view's step slider moves between them).
  virtual void on_kept_steps(const std::vector<int64_t>&) {}
  // Whether the open recorded run is followed as it grows, and still growing.
  virtual void on_following_changed(bool) {}
  // The live session is back at step 0, recording to a new run file.
  virtual void on_reset() {}
  // The current module: a tree row, a wiring row, the layer the plots show ("" for none).
  virtual void on_selection_changed(const std::string&) {}
  // The plotted series were replaced (an answer from the run file, a comparison run).
  virtual void on_history_changed() {}
  // Stepping started or stopped.
  virtual void on_running_changed(bool) {}
  // Every copy is paused at a breakpoint's sync point; then went on (Continue, Stop, ...).
  virtual void on_paused(const BreakpointHit&) {}
  virtual void on_resumed() {}
  virtual void on_breakpoints_changed(const std::set<std::string>&) {}
  // What the rules found (errors first, then warnings, notes; each by first step): after every
  // live step, when a recorded run was checked at its open and as it grows; an empty report
  // when a session opens or resets. `selected`: the finding selected (null: none), perhaps grown.
  virtual void on_findings_changed(const FindingsReport&, const diagnose::Finding* /*selected*/) {}
  // A finding was picked (a click in the Findings dock; a recorded run's most severe at its
  // open): the views go to it. Null: none is selected now.
  virtual void on_finding_selected(const diagnose::Finding*) {}
  // Something failed (an open, a step, a reset, a read); the message says what.
  virtual void on_error(const QString&) {}
  // An open failed (on_error follows, with the same message); what was open stays open. `proposed`:
  // for a model that cannot take the data, the session's flags with data that would fit; else
  // empty.
  virtual void on_open_failed(const QString& /*what*/, const QStringList& /*proposed*/) {}
};

}  // namespace replicascope::ui
