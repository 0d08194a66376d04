"""Builders of the evaluation tests: a tiny dataset whose queries share words with their passages."""

from __future__ import annotations

from explorer.data.model import Dataset, Passage

TOPICS = [
    ("photosynthesis", "plants turn sunlight into sugar in their leaves"),
    ("volcano", "molten rock erupts from a volcano crater as lava"),
    ("glacier", "a glacier is a slow river of ice carving valleys"),
    ("vaccine", "a vaccine trains the immune system against a virus"),
    ("tides", "the moon pulls the ocean and makes the tides rise"),
    ("bitcoin", "bitcoin is a digital currency recorded on a blockchain"),
    ("telescope", "a telescope gathers light to see distant galaxies"),
    ("enzyme", "an enzyme speeds up a chemical reaction in the cell"),
    ("earthquake", "an earthquake shakes the ground when faults slip"),
    ("compiler", "a compiler translates source code into machine code"),
    ("rainbow", "a rainbow appears when sunlight is split by raindrops"),
    ("neuron", "a neuron sends electrical signals through the brain"),
]


def make_dataset() -> Dataset:
    """12 queries (8 train, 4 test), each with one grade-2 passage, some with a grade-1 passage too."""
    queries, corpus, qrels, split = {}, {}, {}, {}
    for i, (word, text) in enumerate(TOPICS):
        qid = f"q{i}"
        queries[qid] = f"what is a {word} and how does the {word} work"
        corpus[f"p{i}"] = Passage(f"p{i}", text, title=word.capitalize())
        corpus[f"x{i}"] = Passage(f"x{i}", f"more about the {word}: history and uses", title="")
        qrels[qid] = {f"p{i}": 2}
        if i % 3 == 0:
            qrels[qid][f"x{i}"] = 1
        split[qid] = "test" if i % 3 == 1 else "train"
    return Dataset("tiny", queries, corpus, qrels, split).validate()
