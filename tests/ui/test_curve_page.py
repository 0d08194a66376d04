"""The Train page's learning curve: computed on a button press, drawn with its intervals."""

from __future__ import annotations

from tests.ui.conftest import app, problems


def test_train_page_draws_the_learning_curve(workspace_with_run):
    at = app(default_timeout=240)
    at.run()
    at.switch_page("pages/train.py").run()
    assert problems(at) == []
    assert any("How much data" in h.value for h in at.subheader)
    assert not any("Learning curve" in str(getattr(c, "proto", "")) for c in at.get("plotly_chart"))
    at.button(key="curve_run").click().run()
    assert problems(at) == []
    charts = [c for c in at.get("plotly_chart") if "Learning curve" in c.proto.spec]
    assert len(charts) == 1
    assert any(c.value.startswith(("Still rising", "Flattening")) for c in at.caption)
    at.run()  # a rerun keeps the curve without recomputing it
    assert len([c for c in at.get("plotly_chart") if "Learning curve" in c.proto.spec]) == 1
