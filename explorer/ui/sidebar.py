"""The sidebar every page shares: the workspace at a glance, public-mode limits, and running jobs.

The compared run is named there, with a small "Rename" control: the name a user gives (stored in the run's
folder) replaces the generated one on every page, shown as typed.
"""

from __future__ import annotations

import streamlit as st

from explorer import pipeline
from explorer.core.errors import ExplorerError
from explorer.ui import state, text
from explorer.ui.jobs import sidebar_jobs
from explorer.ui.navigation import page_links


def draw_sidebar() -> None:
    """Dataset and selected run of this workspace, the limits in public mode, the compact job panel."""
    ws = state.workspace()
    settings = ws.settings  # the limits this visitor works under
    with st.sidebar:
        page_links()
        st.divider()
        choice = ws.dataset_choice()
        label = text.message(choice.name or choice.spec, ws.folder) if choice else "— none yet"
        st.markdown(f"**Dataset:** {label}")
        run = state.tuned_run_id(ws)
        if run:
            st.markdown(f"**Compared run:** {text.plain(pipeline.run_label(ws, run))}", help=f"Run id `{run}`")
            rename_control(ws, run)
            if pipeline.api_model(ws, run):
                st.caption(run_cost_line(ws, run))
        if settings.public:
            st.caption(
                f"Public demo: private workspace `{ws.id}` (keep this URL to come back). Limits: uploads ≤ "
                f"{settings.max_upload_mb:.0f} MB, ≤ {settings.max_passages:,} passages, ≤ {settings.max_epochs} epochs; "
                f"workspaces are deleted after {settings.workspace_ttl_hours:.0f} h idle."
            )
        sidebar_jobs()


def run_cost_line(ws, run_id: str) -> str:
    """What a run over an API model paid for its embeddings (the tokens the server billed, at the list price)."""
    from explorer.encoders.prices import PRICES_AS_OF

    cost = next((r.cost_usd for r in state.runs(ws) if r.id == run_id), None)
    if cost is None:
        return "API cost of this run: unknown price (a compatible server's own model, or not recorded)."
    return f"API cost of this run: ${cost:,.4f} (the tokens billed, at the list price of {PRICES_AS_OF})."


def rename_control(ws, run_id: str) -> None:
    """A "Rename" popover for one run: a text field (its current name, if any) and a Save button.

    An empty name brings back the generated one; a name too long gets one line saying so. The run's new name
    shows on the next rerun, on every page.
    """
    with st.popover("Rename", icon=":material/edit:", help="Give this run a name of your own."):
        typed = st.text_input("Name of this run", value=pipeline.run_name(ws, run_id), key=f"run_name_{run_id}",
                              max_chars=pipeline.MAX_NAME_CHARS, placeholder=pipeline.generated_name(ws, run_id),
                              help="Shown wherever this run is named. Leave it empty to go back to the generated name.")
        if st.button("Save name", key=f"run_name_save_{run_id}", icon=":material/check:"):
            try:
                pipeline.rename_run(ws, run_id, typed)
            except ExplorerError as exc:
                st.error(text.message(exc, ws.folder), icon=":material/error:")
            else:
                st.rerun()
