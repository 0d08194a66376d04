"""Small truths: a tiny p-value is "< 0.001", never "0.000"; a missing value is blank, never "None"."""

from __future__ import annotations

import math

import pytest

from explorer.evaluation.display import p_value_text, value_text


@pytest.mark.parametrize("p, text", [(0.0, "< 0.001"), (1e-9, "< 0.001"), (0.00099, "< 0.001"), (0.001, "0.001"),
                                     (0.0456, "0.046"), (1.0, "1.000"), (None, ""), (math.nan, "")])
def test_p_values(p, text):
    assert p_value_text(p) == text


def test_values():
    assert value_text(None) == "" and value_text(math.nan) == "" and value_text(0.12345) == "0.123"
    assert value_text(0.1, signed=True) == "+0.100" and value_text(2, digits=1) == "2.0"
    assert value_text("adapter") == "adapter" and value_text(True) == "True"
