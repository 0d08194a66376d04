"""The one loss check every trainer calls."""

from __future__ import annotations

import math

import pytest

from explorer.core.errors import TrainingError
from explorer.training.events import check_loss


def test_a_finite_loss_comes_back_as_a_float():
    assert check_loss(0.25, 3) == 0.25 and isinstance(check_loss(1, 3), float)


@pytest.mark.parametrize("loss", [math.nan, math.inf, -math.inf])
def test_a_diverged_loss_names_its_step_and_the_remedy(loss):
    with pytest.raises(TrainingError, match=r"^loss became NaN at step 7; lower the learning rate and try again\.$"):
        check_loss(loss, 7)
