"""The embedding fine-tuning explorer: load a search dataset, fine-tune an encoder, see what changed.

The library is plain Python (no Streamlit outside :mod:`explorer.ui`); heavy imports (torch,
sentence-transformers, chromadb, umap) happen inside the functions that need them, so importing
``explorer`` is cheap.
"""

from explorer.core.errors import DataError, ExplorerError, ModelError, StorageError, TrainingError

__version__ = "0.1.0"

__all__ = ["DataError", "ExplorerError", "ModelError", "StorageError", "TrainingError", "__version__"]
