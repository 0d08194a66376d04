"""Negatives for contrastive training: weak (random) and hard (mined with an encoder, guarded against
false negatives), held in a :class:`NegativeSet` that can be audited, edited, saved and loaded."""

from explorer.data.negatives.mining import DEFAULT_RELATIVE_MARGIN, mine_hard_negatives
from explorer.data.negatives.negative_set import COLUMNS, NegativeRow, NegativeSet
from explorer.data.negatives.weak import weak_negatives

__all__ = ["COLUMNS", "DEFAULT_RELATIVE_MARGIN", "NegativeRow", "NegativeSet", "mine_hard_negatives", "weak_negatives"]
