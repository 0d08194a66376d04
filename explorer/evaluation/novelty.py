"""The gain split by novelty: test queries whose relevant passages training never showed, and the rest.

A fine-tune can learn the corpus rather than the task: when test queries cite the passages that training
queries cite (BEIR SciFact's claims often share abstracts), the model scores them well because it saw those
passages as positives, and the overall change overstates what a new query on a new passage would get. This
module splits the compared test queries in two:

* **new passages**: none of the query's relevant passages (grade >= 1) is a relevant passage of any training
  query (the "train" split, its dev queries included: they were held out of the weights but not of the data
  the user labelled);
* **seen passages**: at least one of them is.

and gives the change (B - A) on each part with the same paired test and bootstrap interval as the overall
comparison (:mod:`explorer.evaluation.significance`), from the per-query scores the comparison already holds,
so nothing is encoded again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.evaluation.significance import bootstrap_ci, paired_bootstrap_ci, paired_test

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.evaluation.compare import Comparison

PARTS = ("all", "new", "seen")
PART_LABELS = {"all": "all test queries", "new": "new passages", "seen": "seen passages"}
"""How each part reads on screen, in the CLI and in the model card."""


@dataclass
class PartChange:
    """The change (B - A) of one metric on one part of the test queries.

    Attributes:
        part: "all", "new" or "seen" (see the module docstring).
        n_queries: queries in the part (0: the part is empty and every number is None).
        mean_a, mean_b, delta: means of A and B and their difference.
        ci_delta: 95 % paired bootstrap interval of the difference.
        p_value: paired p-value (1.0 for fewer than two queries: no test is possible).
    """

    part: str
    n_queries: int
    mean_a: float | None = None
    mean_b: float | None = None
    delta: float | None = None
    ci_delta: tuple[float, float] | None = None
    p_value: float | None = None

    @property
    def label(self) -> str:
        """The part's name as it reads to a user."""
        return PART_LABELS.get(self.part, self.part)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {"part": self.part, "n_queries": self.n_queries, "mean_a": self.mean_a, "mean_b": self.mean_b,
                "delta": self.delta, "ci_delta": list(self.ci_delta) if self.ci_delta else None,
                "p_value": self.p_value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PartChange":
        """Rebuild from :meth:`to_dict` (e.g. evaluation.json's ``novelty`` entry)."""
        ci = data.get("ci_delta")
        return cls(str(data.get("part", "")), int(data.get("n_queries") or 0), data.get("mean_a"), data.get("mean_b"),
                   data.get("delta"), (float(ci[0]), float(ci[1])) if ci else None, data.get("p_value"))

    def text(self) -> str:
        """One plain line, e.g. ``new passages (104 queries): 0.673 -> 0.679 (+0.006, 95% CI [-0.01, +0.02], p 0.41)``."""
        from explorer.evaluation.display import p_value_text

        if not self.n_queries or self.delta is None or self.ci_delta is None:
            return f"{self.label}: no queries"
        low, high = self.ci_delta
        return (f"{self.label} ({self.n_queries} queries): {self.mean_a:.3f} -> {self.mean_b:.3f} "
                f"({self.delta:+.3f}, 95% CI [{low:+.3f}, {high:+.3f}], p {p_value_text(self.p_value)})")


def seen_passages(dataset: "Dataset", split: str = "train") -> set[str]:
    """Every passage judged relevant (grade >= 1) to a query of ``split``."""
    return {p for q in dataset.query_ids(split) for p in dataset.positives(q)}


def novelty_parts(dataset: "Dataset", query_ids: Iterable[str]) -> dict[str, list[str]]:
    """Split ``query_ids`` into ``{"new": [...], "seen": [...]}`` (sorted) by whether any of a query's relevant
    passages is a relevant passage of a training query. A query with no relevant passage counts as new."""
    seen = seen_passages(dataset)
    parts: dict[str, list[str]] = {"new": [], "seen": []}
    for q in sorted(query_ids):
        parts["seen" if seen.intersection(dataset.positives(q)) else "new"].append(q)
    return parts


def part_change(part: str, a: Mapping[str, float], b: Mapping[str, float], query_ids: list[str],
                method: str = "student", seed: int = 0) -> PartChange:
    """The change from per-query scores ``a`` to ``b`` on ``query_ids`` (same test and interval as
    :func:`explorer.evaluation.compare.compare_results`)."""
    if not query_ids:
        return PartChange(part, 0)
    xa = [float(a[q]) for q in query_ids]
    xb = [float(b[q]) for q in query_ids]
    mean_a, mean_b = sum(xa) / len(xa), sum(xb) / len(xb)
    return PartChange(part, len(query_ids), mean_a, mean_b, mean_b - mean_a,
                      paired_bootstrap_ci(xa, xb, seed=seed), paired_test(xa, xb, method=method, seed=seed))


def novelty_split(comp: "Comparison", dataset: "Dataset", metric: str = "ndcg@10",
                  seed: int = 0) -> list[PartChange]:
    """The change of ``metric`` on all compared queries, on those with new passages and on the rest.

    Args:
        comp: the comparison (its per-query scores are reused; nothing is encoded).
        dataset: the dataset it was made on (its "train" split says which passages training saw).
        metric: a metric both results hold per query.
        seed: seed of the bootstrap and the randomization test.

    Returns:
        Three :class:`PartChange`, in :data:`PARTS` order.

    Raises:
        ValueError: a result lacks per-query scores of ``metric``.
    """
    a, b = comp.result_a.per_query.get(metric), comp.result_b.per_query.get(metric)
    if not a or not b:
        raise ValueError(f"both results need per-query scores of {metric}")
    qids = sorted(set(a) & set(b))
    parts = {"all": qids, **novelty_parts(dataset, qids)}
    return [part_change(p, a, b, parts[p], method=comp.test, seed=seed) for p in PARTS]


def novelty_record(comp: "Comparison", dataset: "Dataset", metric: str = "ndcg@10") -> dict[str, Any]:
    """What a run stores in evaluation.json (``novelty``): the metric and the three parts as dicts."""
    return {"metric": metric, "parts": [c.to_dict() for c in novelty_split(comp, dataset, metric)]}


def split_line(record: Mapping[str, Any] | None) -> str:
    """The new and seen parts of a stored :func:`novelty_record` on one plain line ("" when there is none),
    for the CLI and the model card."""
    parts = [PartChange.from_dict(p) for p in (record or {}).get("parts") or [] if isinstance(p, Mapping)]
    lines = [c.text() for c in parts if c.part != "all"]
    return f"{str((record or {}).get('metric', 'ndcg@10')).upper()} by novelty: " + "; ".join(lines) if lines else ""
