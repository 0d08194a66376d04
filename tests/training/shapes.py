"""Seeded synthetic datasets of a given *shape*, for tests that need a real model to mean something.

:func:`many_positive_dataset` makes the shape on which a tuned model can end up worse than its base:
a few hundred queries, a couple of thousand passages, tens of judged passages per query on two grades
(2 = clearly relevant, 1 = partially relevant), and heavy topic overlap (many queries share a condition and
an aspect, so their judged passages overlap). The texts are templated English sentences over shared
vocabularies (medical conditions, aspects, populations), so a sentence encoder such as all-MiniLM-L6-v2
embeds them meaningfully: a query about "vitamin D and asthma in children" is near passages about asthma and
vitamin D.

Relevance follows the templates: a passage is about one condition, two aspects and one population; a query
names one condition, one aspect and one population. Same condition and the query's aspect among the
passage's: grade 2 when the population matches too, else grade 1. Other passages of the condition that only
share the population are judged 1 with a small probability (loosely related, as real graded sets are).
"""

from __future__ import annotations

import random

from explorer.data.model import Dataset, Passage

CONDITIONS = [
    "type 2 diabetes", "asthma", "migraine", "rheumatoid arthritis", "hypertension", "depression",
    "osteoporosis", "psoriasis", "heart failure", "breast cancer",
]
ASPECTS = [
    ("vitamin D", "vitamin D supplements", "serum vitamin D levels"),
    ("coffee", "coffee drinking", "caffeine intake"),
    ("red meat", "processed meat", "eating red meat"),
    ("exercise", "aerobic training", "physical activity"),
    ("sleep", "sleep duration", "poor sleep"),
    ("stress", "psychological stress", "work stress"),
    ("soy", "soy foods", "soy isoflavones"),
    ("fish oil", "omega-3 fatty acids", "fish oil capsules"),
    ("sugar", "sugary drinks", "added sugar"),
    ("alcohol", "drinking alcohol", "alcohol consumption"),
    ("smoking", "cigarette smoking", "tobacco use"),
    ("green tea", "green tea extract", "drinking green tea"),
]
POPULATIONS = [
    ("children", "in children", "among school-age children"),
    ("older adults", "in older adults", "among people over 65"),
    ("pregnant women", "during pregnancy", "among pregnant women"),
    ("athletes", "in athletes", "among competitive athletes"),
]
QUERY_TEMPLATES = [
    "does {a} affect {c} {p}",
    "{a} and the risk of {c} {p}",
    "is {a} linked to {c} {p}?",
    "effect of {a} on {c} {p}",
]
PASSAGE_TEMPLATES = [
    "A cohort study of {pn} examined {a1} and {c}. Participants with more {a2} also showed differences in {c} outcomes.",
    "We review trials on {a1} {pp}. The evidence on {c} is mixed, and {a2} was a possible confounder.",
    "Background: {c} is common {pp}. Methods: we measured {a1} and {a2} in {n} patients. Results were adjusted for age.",
    "This randomized trial tested whether {a1} changes the course of {c} {pp}; a secondary analysis looked at {a2}.",
    "In a case-control study, {c} {pp} was associated with {a1}. No association with {a2} was found after adjustment.",
]
FILLER = [
    "Further studies are needed.", "Limitations include the small sample size.",
    "The findings were consistent across subgroups.", "Follow-up lasted two years.",
    "Data were collected from hospital records.", "Funding came from a public grant.",
]


def many_positive_dataset(n_queries: int = 360, n_passages: int = 1500, test_fraction: float = 0.3,
                          seed: int = 0, loose_rate: float = 0.04) -> Dataset:
    """A dataset of the many-positive, two-grade, overlapping-topic shape (see the module docstring).

    Args:
        n_queries: queries (distinct condition, aspect, population combinations; at most 480).
        n_passages: passages; about ``n_passages / 60`` share a query's condition and aspect (a quarter of
            them its population too).
        test_fraction: share of the judged queries in the test split (seeded, by query).
        seed: everything (texts, judgements, split) follows from it.
        loose_rate: probability that a passage sharing only the condition and population is judged 1.
    """
    rng = random.Random(seed)
    combos = [(c, a, p) for c in range(len(CONDITIONS)) for a in range(len(ASPECTS)) for p in range(len(POPULATIONS))]
    if n_queries > len(combos):
        raise ValueError(f"at most {len(combos)} distinct queries, asked for {n_queries}")
    corpus: dict[str, Passage] = {}
    facets: dict[str, tuple[int, set[int], int]] = {}
    for i in range(n_passages):
        c, p = rng.randrange(len(CONDITIONS)), rng.randrange(len(POPULATIONS))
        a1, a2 = rng.sample(range(len(ASPECTS)), 2)
        text = rng.choice(PASSAGE_TEMPLATES).format(
            c=CONDITIONS[c], a1=rng.choice(ASPECTS[a1]), a2=rng.choice(ASPECTS[a2]), n=rng.randrange(40, 4000),
            pn=POPULATIONS[p][0], pp=rng.choice(POPULATIONS[p][1:]),
        )
        pid = f"d{i:05d}"
        corpus[pid] = Passage(pid, f"{text} {rng.choice(FILLER)}", title=f"{CONDITIONS[c].capitalize()} study {i}")
        facets[pid] = (c, {a1, a2}, p)
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for j, (c, a, p) in enumerate(rng.sample(combos, n_queries)):
        qid = f"q{j:04d}"
        queries[qid] = rng.choice(QUERY_TEMPLATES).format(a=rng.choice(ASPECTS[a]), c=CONDITIONS[c],
                                                          p=rng.choice(POPULATIONS[p][1:]))
        judged = {}
        for pid, (pc, pa, pp) in facets.items():
            if pc != c:
                continue
            if a in pa:
                judged[pid] = 2 if pp == p else 1
            elif pp == p and rng.random() < loose_rate:
                judged[pid] = 1
        qrels[qid] = judged
    split = {q: "train" for q in queries}
    return Dataset("many-positives", queries, corpus, qrels, split, source="tests").validate().with_split(
        test_fraction, seed=seed)
