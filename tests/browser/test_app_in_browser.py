"""The app in a real browser: the one-click demo and every page, live training across pages and reloads,
and private workspaces in public mode.

Run with ``python -m pytest tests/browser``. Set ``EXPLORER_SCREENSHOTS=assets`` to also refresh the README's
screenshots from the demo test (``python tests/browser/screenshots.py`` does the same with the real model).
"""

from __future__ import annotations

import os
import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

from browser_flows import (PLOT, ROOT, TABLE, errors_on, heading, load_demo, nav, open_app, run_demo, settle,
                           start_training, visit_all)

pytestmark = pytest.mark.browser

def _start_adapter_training(page) -> str:
    """Choose the demo dataset, start an adapter training on the Train page; returns the run id."""
    load_demo(page)
    nav(page, "Train")
    heading(page, "Train").wait_for()
    return start_training(page)


def _workspace_id(page) -> str | None:
    return (parse_qs(urlparse(page.url).query).get("ws") or [None])[0]


def test_demo_then_every_page(app_server, new_page, tmp_path):
    """The one-click demo runs to the Metrics page; then every page draws its content without an error."""
    page = new_page()
    start = time.monotonic()
    open_app(page, app_server)
    run_demo(page, "adapter")
    demo_s = time.monotonic() - start
    assert not errors_on(page), app_server.log_tail()

    folders = [tmp_path / "screenshots"]
    if os.environ.get("EXPLORER_SCREENSHOTS"):
        folders.append(ROOT / os.environ["EXPLORER_SCREENSHOTS"])
    timings = visit_all(page, folders)
    print(f"demo {demo_s:.1f} s; pages {timings}")
    assert sorted(p.name for p in folders[0].iterdir()) == sorted(
        ["home.png", "data.png", "train.png", "latent.png", "similarity.png", "metrics.png", "inspect.png",
         "search.png"])
    # The demo's run is what the pages compare against.
    assert "Compared run:" in page.locator('[data-testid="stSidebar"]').inner_text()


def test_training_follows_the_user_and_survives_a_reload(app_server, new_page):
    """A training started on Train progresses while the user is elsewhere; a reload lists the finished run."""
    page = new_page()
    open_app(page, app_server)
    run_id = _start_adapter_training(page)

    # Move away at once: the sidebar panel keeps polling the job on another page until it is done.
    nav(page, "Data")
    heading(page, "Data").wait_for()
    sidebar = page.locator('[data-testid="stSidebar"]')
    seen, deadline = [], time.monotonic() + 90
    while time.monotonic() < deadline:
        text = sidebar.inner_text()
        seen.append(text)
        if run_id not in text and len(seen) > 1:
            break  # the live panel removed the finished job by itself
        page.wait_for_timeout(300)
    assert any(f"Training {run_id}" in t for t in seen), f"the sidebar never showed the job: {seen[-1]!r}"
    assert run_id not in seen[-1], "the sidebar did not notice that the job ended"

    # A reload is a new browser session: the finished run must be read back from disk.
    page.reload()
    heading(page, "Data").wait_for()
    settle(page)
    nav(page, "Train")
    heading(page, "Train").wait_for()
    page.locator(TABLE).first.wait_for()
    settle(page)
    # The runs table is drawn on a canvas; the run picker under it shows the id as text.
    picker = page.locator('[class*="st-key-pick_run"]')
    shown = picker.inner_text() + " ".join(box.input_value() for box in picker.locator("input").all())
    assert run_id in shown, f"the finished run is not listed after a reload: {shown!r}"
    assert not errors_on(page), app_server.log_tail()
    nav(page, "Home")
    heading(page, "Embedding fine-tuning explorer").wait_for()
    finished = page.locator('[data-testid="stMetric"]').filter(has_text="Finished runs")
    assert finished.inner_text().split()[-1] == "1"


def test_public_mode_keeps_visitors_apart(app_server_factory, new_page):
    """In public mode each browser gets its own workspace id in the URL and never sees another's runs."""
    server = app_server_factory(public=True)
    alice, bob = new_page(), new_page()
    open_app(alice, server)
    open_app(bob, server)
    alice.wait_for_url(re.compile(r"[?&]ws=\w+"))
    bob.wait_for_url(re.compile(r"[?&]ws=\w+"))
    ws_alice, ws_bob = _workspace_id(alice), _workspace_id(bob)
    assert ws_alice and ws_bob and ws_alice != ws_bob

    run_id = _start_adapter_training(alice)
    assert _workspace_id(alice) == ws_alice, "navigating lost the workspace id"

    # Bob loads the same demo dataset, so his Train page draws its list of runs: it must be empty.
    load_demo(bob)
    nav(bob, "Train")
    heading(bob, "Train").wait_for()
    bob.get_by_text("No runs yet").wait_for()
    settle(bob)
    assert run_id not in bob.locator("body").inner_text()
    assert _workspace_id(bob) == ws_bob
    nav(bob, "Home")
    heading(bob, "Embedding fine-tuning explorer").wait_for()
    assert bob.locator('[data-testid="stMetric"]').filter(has_text="Runs in total").inner_text().split()[-1] == "0"
    assert not errors_on(alice) and not errors_on(bob), server.log_tail()


def test_data_page_charts_open_on_request_and_stay_open(app_server, new_page):
    """The Data page draws its three charts only once the visitor opens them, and keeps them open after a
    switch to another page and back (and closed again once closed)."""
    page = new_page()
    open_app(page, app_server)
    load_demo(page)
    plots = page.locator(PLOT)
    distributions = page.locator("summary").filter(has_text="Distributions")
    assert plots.count() == 0
    distributions.click()
    plots.nth(2).wait_for()
    for label, title in [("Train", "Train"), ("Data", "Data")]:
        nav(page, label)
        heading(page, title).wait_for()
        settle(page)
    assert plots.count() == 3
    distributions.click()
    settle(page)
    assert plots.count() == 0
    for label, title in [("Home", "Embedding fine-tuning explorer"), ("Data", "Data")]:
        nav(page, label)
        heading(page, title).wait_for()
        settle(page)
    assert page.get_by_text("Statistics:").first.is_visible() and plots.count() == 0
    assert not errors_on(page), app_server.log_tail()
