"""The sidebar every page shares: the workspace at a glance, public-mode limits, and running jobs."""

from __future__ import annotations

import streamlit as st

from explorer import pipeline
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
        if settings.public:
            st.caption(
                f"Public demo: private workspace `{ws.id}` (keep this URL to come back). Limits: uploads ≤ "
                f"{settings.max_upload_mb:.0f} MB, ≤ {settings.max_passages:,} passages, ≤ {settings.max_epochs} epochs; "
                f"workspaces are deleted after {settings.workspace_ttl_hours:.0f} h idle."
            )
        sidebar_jobs()
