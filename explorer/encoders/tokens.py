"""Token counting for API encoders: exact with tiktoken when it is installed, a safe estimate otherwise.

tiktoken is optional (it also needs to download its BPE tables once, which fails offline). Without it the
count is an estimate meant to err high so that an input judged to fit really does: ASCII text averages
about 4 characters per token in English, fewer in code, numbers and URLs, so an ASCII character counts a
third of a token; a non-ASCII character (accents, CJK, emoji: often one or more tokens each) counts a whole
token. Over-estimating only truncates or chunks a little earlier than needed.
"""

from __future__ import annotations

import math
import threading
from typing import Any

ASCII_CHARS_PER_TOKEN = 3
TIKTOKEN_LOAD_SECONDS = 10.0


def _load_encoding(tiktoken: Any, model: str, found: list[Any]) -> None:
    """Append tiktoken's encoding for ``model`` (cl100k_base for an unknown model) to ``found``, if it loads."""
    try:
        try:
            found.append(tiktoken.encoding_for_model(model))
        except KeyError:
            found.append(tiktoken.get_encoding("cl100k_base"))
    except Exception:  # offline first use: tiktoken cannot fetch its tables; the estimate still works
        return


def _cost(char: str) -> float:
    return 1.0 / ASCII_CHARS_PER_TOKEN if ord(char) < 128 else 1.0


class TokenCounter:
    """Counts and splits texts by tokens of an OpenAI model.

    Args:
        model: model name, to pick tiktoken's encoding (cl100k_base for the embedding models).
        use_tiktoken: False forces the estimate (tests, or to avoid tiktoken's one-time download).

    Attributes:
        exact: whether counts come from tiktoken (True) or the estimate (False).
    """

    def __init__(self, model: str = "text-embedding-3-small", use_tiktoken: bool = True) -> None:
        self.model = model
        self._encoding: Any = self._tiktoken(model) if use_tiktoken else None
        self.exact = self._encoding is not None

    @staticmethod
    def _tiktoken(model: str) -> Any:
        """tiktoken's encoding for ``model``, or None: tiktoken missing, or its tables not loaded within
        :data:`TIKTOKEN_LOAD_SECONDS` (its first use downloads them, with no timeout of its own: offline it
        fails, or hangs on a network that drops packets; the estimate then stands in)."""
        try:
            import tiktoken
        except ImportError:
            return None
        found: list[Any] = []
        loader = threading.Thread(target=_load_encoding, args=(tiktoken, model, found), daemon=True)
        loader.start()
        loader.join(TIKTOKEN_LOAD_SECONDS)
        return found[0] if found else None

    def count(self, text: str) -> int:
        """Tokens in ``text`` (exact, or the high-side estimate)."""
        if self._encoding is not None:
            return len(self._encoding.encode(text, disallowed_special=()))
        ascii_chars = len(text.encode("ascii", errors="ignore"))
        return math.ceil(ascii_chars / ASCII_CHARS_PER_TOKEN + (len(text) - ascii_chars))

    def split(self, text: str, max_tokens: int) -> list[tuple[str, int]]:
        """Consecutive pieces of ``text`` of at most ``max_tokens`` tokens each, with their token counts."""
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        if self._encoding is not None:
            ids = self._encoding.encode(text, disallowed_special=())
            return [(self._encoding.decode(ids[i : i + max_tokens]), len(ids[i : i + max_tokens]))
                    for i in range(0, max(len(ids), 1), max_tokens)]
        pieces: list[tuple[str, int]] = []
        start, cost = 0, 0.0
        for i, char in enumerate(text):
            step = _cost(char)
            if cost + step > max_tokens + 1e-9 and i > start:
                pieces.append((text[start:i], math.ceil(cost - 1e-9)))
                start, cost = i, 0.0
            cost += step
        pieces.append((text[start:], math.ceil(cost - 1e-9)))
        return pieces
