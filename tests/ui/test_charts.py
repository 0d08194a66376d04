"""The charts keep the palette: every kind and model is drawn in its own colour."""

from __future__ import annotations

from explorer.ui import charts


def test_length_panels_take_the_colour_of_their_kind():
    fig = charts.length_histogram({"queries": [3, 4, 5], "passages": [30, 40, 41]})
    colours = {trace.name: trace.marker.color for trace in fig.data}
    assert colours == {"queries": charts.QUERY, "passages": charts.PASSAGE}
