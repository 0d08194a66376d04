"""The jobs tests train on the same tiny dataset and tiny model as the trainer tests."""

from tests.training.conftest import _one_torch_thread, tiny_data, tiny_deep_model_dir, tiny_model_dir  # noqa: F401 - fixtures
