"""The live job panel: a fragment that polls the job manager and redraws progress, ETA, loss and metrics.

The worker thread never touches Streamlit: it updates the manager's snapshot, and this fragment reads it
every 1.5 s (``run_every``) without rerunning the rest of the page. The compact version sits in the sidebar
of every page, so a training started on the Train page stays visible while the user looks elsewhere.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.ui import charts, state
from explorer.ui import text as text_  # `text` is a local name in _progress_text

ACTIVE = ("queued", "running")


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
    text = PHASES.get(view.phase, view.phase)
    if view.message:
        text += " — " + text_.plain(text_.redact(view.message, state.workspace_folder())[:120])
    if view.phase == "training":
        text += f" — ETA {_fmt_eta(view.eta_seconds)}"
    return text


def active_job_ids() -> list[str]:
    """This workspace's queued or running jobs."""
    from explorer import pipeline

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
    from explorer import pipeline

    view = pipeline.job_view(state.job_manager(), job_id)
    if view is not None and view.status in ACTIVE:
        _live_job_panel(job_id, on_done)
    else:
        _job_panel_body(job_id, on_done)


def _job_panel_body(job_id: str, on_done: str | None) -> None:
    from explorer import pipeline

    view = pipeline.job_view(state.job_manager(), job_id)
    if view is None:
        st.warning("This job is no longer known to the server (it restarted); its run is listed below.")
        return
    with st.container(border=True, key=f"job_panel_{job_id}"):
        st.markdown(f"**Run `{view.run_id}`** · {view.method} · status **{view.status}**")
        if view.status in ACTIVE:
            st.progress(view.fraction, text=_progress_text(view))
            if st.button("Cancel training", key=f"cancel_{job_id}", icon=":material/stop_circle:"):
                pipeline.cancel_job(state.job_manager(), job_id)
                st.toast("Cancelling… the job stops at the next step.")
        elif view.status == "succeeded":
            st.success("Training finished. See the comparison on the Metrics page.", icon=":material/check_circle:")
            if on_done and st.session_state.pop("_follow_job", None) == job_id:
                state.workspace().set_selected_run(view.run_id)
                st.switch_page(on_done)
        elif view.status == "failed":
            st.error("Training failed: " + text_.message(view.error, state.workspace_folder()))
        else:
            st.info(f"Training {view.status}.")
        # Loss and held-out metrics side by side; the loss alone takes the full width.
        left, right = st.columns(2) if view.evals else (st.container(), None)
        if view.losses:
            steps, losses = zip(*view.losses)
            left.plotly_chart(charts.loss_curve(steps, losses), key=f"loss_{job_id}",
                              config=charts.png_config("loss"))
        if view.evals and right is not None:
            right.plotly_chart(charts.eval_curve(pd.DataFrame(view.evals)), key=f"eval_{job_id}",
                               config=charts.png_config("held_out_metrics"))


_live_job_panel = st.fragment(run_every=1.5)(_job_panel_body)


def sidebar_jobs() -> None:
    """Compact panel: one progress bar per active job of this workspace (polling only while one is active)."""
    if active_job_ids():
        _live_sidebar_jobs()


@st.fragment(run_every=1.5)
def _live_sidebar_jobs() -> None:
    from explorer import pipeline

    views = [v for v in pipeline.workspace_jobs(state.job_manager(), state.workspace()) if v.status in ACTIVE]
    for view in views:
        st.caption(f"Training `{view.run_id}` ({view.method})")
        st.progress(view.fraction, text=_progress_text(view))
    if views:
        st.page_link("pages/train.py", label="Open the training panel", icon=":material/model_training:")
