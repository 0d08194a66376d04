"""The Data page says what the baseline encoding will cost before the Metrics page pays it."""

from __future__ import annotations

from tests.ui.conftest import app, problems


def test_the_data_page_shows_the_encoding_cost_then_that_it_is_cached(tiny_csv):
    import streamlit as st

    from explorer.workspace import DatasetChoice, open_workspace

    # The baseline memo and the encoders are server-wide: one filled by an earlier test on the same tiny data (in
    # another home) would spare this test's Metrics visit its encoding.
    st.cache_resource.clear()
    open_workspace().set_dataset_choice(DatasetChoice(spec=str(tiny_csv), name="tiny"))
    at = app(default_timeout=120)
    at.run()
    at.switch_page("pages/data.py").run()
    assert problems(at) == []
    costs = [c.value for c in at.caption if c.value.startswith("Encoding before the first results")]
    assert len(costs) == 1 and "texts to embed, about" in costs[0] and "on this machine" in costs[0]
    at.switch_page("pages/metrics.py").run()  # the baseline encodes everything
    at.switch_page("pages/data.py").run()
    costs = [c.value for c in at.caption if c.value.startswith("Encoding before the first results")]
    assert len(costs) == 1 and "nothing to encode" in costs[0]
