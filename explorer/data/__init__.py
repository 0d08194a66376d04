"""Datasets: the model, loaders, statistics, splits and negatives."""

from explorer.data.model import Dataset, Passage

__all__ = ["Dataset", "Passage"]
