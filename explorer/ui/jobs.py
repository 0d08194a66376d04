"""The live job panel: a fragment that polls the job manager and redraws progress, ETA, loss and metrics.

The worker thread never touches Streamlit: it updates the manager's snapshot, and this fragment reads it
every :data:`PANEL_EVERY` seconds (``run_every``) without rerunning the rest of the page. The compact version
sits in the sidebar of every page (polling less often), so a training started on the Train page stays visible
while the user looks elsewhere. Why not faster: every rerun costs the server Python time (the GIL the training
thread needs) and the browser a redraw, on the same two cores as the job; the figures are rebuilt only when a
new point arrived.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from explorer import pipeline
from explorer.ui import charts, state
from explorer.ui import text as text_  # `text` is a local name in _progress_text

ACTIVE = ("queued", "running")
PANEL_EVERY = 2.0
"""Seconds between two polls of the full job panel."""
SIDEBAR_EVERY = 5.0
"""Seconds between two polls of the compact sidebar panel."""
FIGURES_EVERY = 10.0
"""Seconds between two redraws of the live loss chart (a new held-out point or the job's end redraws at once):
each redraw costs the browser a plotly layout, on the same two cores as the job."""


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


PHASES = {"starting": "starting", "baseline": "1/5 evaluating the base model", "mining": "2/5 mining hard negatives",
          "training": "3/5 training", "saving": "4/5 saving the model", "evaluating": "5/5 evaluating the fine-tuned model"}


def _progress_text(view) -> str:
    if view.status == "queued":
        place = f" (place {view.queue_position} in the queue)" if view.queue_position else ""
        return f"Queued{place}: waiting for the running job to finish."
    event = view.latest
    text = PHASES.get(view.phase, view.phase)
    if event is not None and event.message:
        text += " — " + text_.plain(text_.redact(event.message, state.workspace_folder())[:120])
    if event is not None and event.wait_seconds is not None:
        reason = text_.plain(text_.redact(event.wait_reason, state.workspace_folder())[:80])
        text += f" — retrying in {_fmt_eta(event.wait_seconds)}" + (f" ({reason})" if reason else "")
    if event is not None and event.cost is not None:
        text += f" — cost so far: {event.cost:,.4f} USD"
    if view.eta_total is not None:
        text += f" — about {_fmt_eta(view.eta_total)} left in all"
    elif view.phase == "training":
        text += f" — ETA {_fmt_eta(event.eta_seconds if event is not None else None)}"
    return text


def _plan_text(view) -> str:
    """The job's steps with their planned durations (shown from the first second of a planned job)."""
    if not view.plan:
        return ""
    steps = [f"{PHASES.get(p, p).split(' ', 1)[-1]} ~{_fmt_eta(s)}" for p, s in view.plan.items() if s >= 0.5]
    return "Plan: " + " → ".join(steps)


def _figures(job_id: str, view) -> tuple:
    """The loss and held-out-metric figures (kept in the session): rebuilt when a held-out point arrived or the job
    ended, and for new loss points at most every :data:`FIGURES_EVERY` seconds; otherwise the same figures, which
    the browser does not lay out again."""
    key = f"_job_figs_{job_id}"
    stamp = (len(view.losses), len(view.evals), view.status)
    cached = st.session_state.get(key)
    if cached is not None:
        (losses, evals, status), figures, built = cached
        if (evals, status) == stamp[1:] and (losses == stamp[0] or time.monotonic() - built < FIGURES_EVERY):
            return figures
    loss_fig = charts.loss_curve(*zip(*view.losses)) if view.losses else None
    evals = pd.DataFrame(view.evals).drop(columns="dev_queries", errors="ignore") if view.evals else None
    eval_fig = charts.eval_curve(evals) if evals is not None else None
    figures = (loss_fig, eval_fig)
    st.session_state[key] = (stamp, figures, time.monotonic())
    return figures


def dev_caption(evals: list[dict]) -> str:
    """What the live numbers are: dev scores of held-out training queries (never the test split), and which
    metric picks the kept point; a warning when there are too few dev queries for the choice to be trusted."""
    from explorer.training.selection import MIN_DEV_QUERIES, SELECTION_METRIC

    n = next((int(e["dev_queries"]) for e in reversed(evals) if e.get("dev_queries")), 0)
    if not n:
        return "Held-out numbers during training."
    line = (f"Live numbers: dev ({n} held-out training queries, searched over the whole corpus). "
            f"Dev {SELECTION_METRIC.upper()} selects the checkpoint kept; step 0 is the base model.")
    if n < MIN_DEV_QUERIES:
        line += f" With fewer than {MIN_DEV_QUERIES} dev queries this choice is noisy."
    return line


def active_job_ids() -> list[str]:
    """This workspace's queued or running jobs."""
    return [v.id for v in pipeline.workspace_jobs(state.job_manager(), state.workspace()) if v.status in ACTIVE]


def job_panel(job_id: str, *, on_done: str | None = None) -> None:
    """Full panel of one job: progress bar, ETA, loss curve, held-out metrics, cancel button.

    The panel polls (a ``run_every`` fragment) only while the job is queued or running: Streamlit 1.67
    redraws the sidebar page list from the ``pages/`` folder on every fragment rerun, so idle pages must
    not rerun fragments.

    Args:
        job_id: the job to follow.
        on_done: a page path to switch to once the job succeeded (the one-click demo lands on Metrics).
    """
    view = pipeline.job_view(state.job_manager(), job_id)
    if view is not None and view.status in ACTIVE:
        _live_job_panel(job_id, on_done)
    else:
        _job_panel_body(job_id, on_done)


def _job_panel_body(job_id: str, on_done: str | None, live: bool = False) -> None:
    view = pipeline.job_view(state.job_manager(), job_id)
    if view is None:
        st.warning("This job is no longer known to the server (it restarted); its run is listed below.")
        return
    with st.container(border=True, key=f"job_panel_{job_id}"):
        st.markdown(f"**Run `{view.run_id}`** · {view.method} · status **{view.status}**")
        if view.status in ACTIVE:
            st.progress(view.fraction, text=_progress_text(view))
            if view.plan:
                st.caption(_plan_text(view))
            if st.button("Cancel training", key=f"cancel_{job_id}", icon=":material/stop_circle:"):
                pipeline.cancel_job(state.job_manager(), job_id)
                st.toast("Cancelling… the job stops at the next step.")
        elif view.status == "succeeded":
            st.success("Training finished. See the comparison on the Metrics page.", icon=":material/check_circle:")
            if on_done and st.session_state.get("_follow_job") == job_id:
                if live:
                    # Switch pages from a full run of the page, never from inside a fragment rerun (the
                    # new page would be drawn through the fragment's partial update).
                    st.rerun()
                st.session_state.pop("_follow_job", None)
                state.workspace().set_selected_run(view.run_id)
                st.switch_page(on_done)
        elif view.status == "failed":
            st.error("Training failed: " + text_.message(view.error, state.workspace_folder()))
        else:
            st.info(f"Training {view.status}.")
        # Loss and held-out metrics side by side; the loss alone takes the full width.
        left, right = st.columns(2) if view.evals else (st.container(), None)
        loss_fig, eval_fig = _figures(job_id, view)
        if loss_fig is not None:
            left.plotly_chart(loss_fig, key=f"loss_{job_id}", config=charts.png_config("loss"))
        if eval_fig is not None and right is not None:
            right.caption(dev_caption(view.evals))
            right.plotly_chart(eval_fig, key=f"eval_{job_id}", config=charts.png_config("held_out_metrics"))


@st.fragment(run_every=PANEL_EVERY)
def _live_job_panel(job_id: str, on_done: str | None) -> None:
    _job_panel_body(job_id, on_done, live=True)


def sidebar_jobs() -> None:
    """Compact panel: one progress bar per active job of this workspace (polling only while one is active)."""
    if active_job_ids():
        _live_sidebar_jobs()


@st.fragment(run_every=SIDEBAR_EVERY)
def _live_sidebar_jobs() -> None:
    views = [v for v in pipeline.workspace_jobs(state.job_manager(), state.workspace()) if v.status in ACTIVE]
    for view in views:
        st.caption(f"Training `{view.run_id}` ({view.method})")
        st.progress(view.fraction, text=_progress_text(view))
    if views:
        st.page_link("pages/train.py", label="Open the training panel", icon=":material/model_training:")
