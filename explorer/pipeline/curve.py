"""The Train page's learning curve as a pipeline step: the adapter at growing shares of the training queries,
with the settings a run of the Train page's adapter would resolve (:func:`explorer.training.curve.learning_curve`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from explorer.core.config import Settings
from explorer.core.progress import Progress

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder
    from explorer.training.curve import LearningCurve


def learning_curve(settings: Settings, dataset: "Dataset", encoder: "Encoder", params: dict[str, Any] | None = None,
                   progress: Progress | None = None) -> "LearningCurve":
    """The learning curve of the adapter on ``dataset``, under the workspace's ``settings``.

    Args:
        settings: the workspace's settings (their caps apply as to a run).
        dataset: the loaded dataset.
        encoder: the base encoder (cached embeddings reused).
        params: training parameters as the Train page passes them (``method`` is forced to "adapter").
        progress: hears ``("learning curve", done, total)``.

    Raises:
        TrainingError: bad parameters, or too few training queries for a dev split.
    """
    from explorer.pipeline.training import training_config
    from explorer.training.recipes import adapter_config
    from explorer.training.curve import learning_curve as curve

    config = training_config(dataset, {**(params or {}), "method": "adapter"}, settings)
    return curve(dataset, encoder, adapter_config(config), progress=progress)
