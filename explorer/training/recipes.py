"""A resolved :class:`~explorer.training.config.TrainConfig` turned into a trainer's own settings."""

from __future__ import annotations

from typing import Any

from explorer.core.errors import TrainingError
from explorer.training.config import TrainConfig


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
    options.update({k: v for k, v in config.adapter.items() if k != "val_fraction"})  # replaced by the dev split
    try:
        return AdapterConfig(**options).validate()
    except TypeError as exc:  # an unknown key in config.adapter
        raise TrainingError(f"Unknown adapter option in {sorted(config.adapter)}: {exc}.") from None


def nudge_config(config: TrainConfig) -> Any:
    """The corpus-side recipe's settings (:class:`~explorer.training.nudge.NudgeConfig`): ``config.nudge``
    options over the run's seed, positive grade and keep rule.

    Raises:
        TrainingError: an unknown key in ``config.nudge``, or an invalid value.
    """
    from explorer.training.nudge import NudgeConfig

    return NudgeConfig.from_options(config.nudge, seed=config.seed, min_positive_grade=config.min_positive_grade,
                                    keep_best=config.keep == "best")
