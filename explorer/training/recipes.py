"""A resolved :class:`~explorer.training.config.TrainConfig` turned into a trainer's own settings."""

from __future__ import annotations

from typing import Any

from explorer.training.config import TrainConfig
from explorer.training.options import settings_from


def adapter_config(config: TrainConfig) -> Any:
    """The adapter trainer's settings (:class:`~explorer.training.adapter.AdapterConfig`): ``config.adapter``
    options, plus the shared fields that were set.

    Raises:
        TrainingError: an unknown key in ``config.adapter``, or an invalid value.
    """
    from explorer.training.adapter import AdapterConfig

    options: dict[str, Any] = {"seed": config.seed, "use_hard_negatives": config.use_hard_negatives,
                               "min_positive_grade": config.min_positive_grade, "keep_best": config.keep == "best"}
    for name in ("epochs", "learning_rate", "batch_size"):
        if getattr(config, name) is not None:
            options[name] = getattr(config, name)
    own = {k: v for k, v in config.adapter.items() if k != "val_fraction"}  # replaced by the dev split
    return settings_from(AdapterConfig, own, "adapter", **options)


def nudge_config(config: TrainConfig) -> Any:
    """The corpus-side recipe's settings (:class:`~explorer.training.nudge.NudgeConfig`): ``config.nudge``
    options over the run's seed, positive grade and keep rule.

    Raises:
        TrainingError: an unknown key in ``config.nudge``, or an invalid value.
    """
    from explorer.training.nudge import NudgeConfig

    return NudgeConfig.from_options(config.nudge, seed=config.seed, min_positive_grade=config.min_positive_grade,
                                    keep_best=config.keep == "best")
