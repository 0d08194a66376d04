"""Builders of small BEIR files for the data-layer tests (no real dataset needed)."""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats are small domesticated carnivores."},
    {"_id": "d2", "title": "Dogs", "text": "Dogs were domesticated from wolves."},
    {"_id": "d3", "title": "", "text": "The moon orbits the earth every 27 days."},
    {"_id": "d4", "title": "Tea", "text": "Tea is brewed from the leaves of Camellia sinensis."},
    {"_id": "d5", "title": "Rain", "text": "Rain forms when water vapour condenses."},
    {"_id": "d6", "title": "Salt", "text": "Table salt is mostly sodium chloride."},
]
QUERIES = [
    {"_id": "q1", "text": "what are cats"},
    {"_id": "q2", "text": "where do dogs come from"},
    {"_id": "q3", "text": "how long is a lunar orbit"},
    {"_id": "q4", "text": "what is tea made of"},
    {"_id": "q5", "text": "why does it rain"},
    {"_id": "q6", "text": "what is salt"},
]
TRAIN = [("q1", "d1", 2), ("q2", "d2", 1), ("q3", "d3", 3), ("q3", "d1", 0)]
TEST = [("q4", "d4", 1), ("q5", "d5", 2), ("q6", "d6", 1)]


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def tsv(rows: list[tuple], header: bool = True) -> str:
    lines = (["query-id\tcorpus-id\tscore"] if header else []) + ["\t".join(map(str, r)) for r in rows]
    return "\n".join(lines) + "\n"


def write_beir(folder: Path, corpus: list[dict] | str | None = None, queries: list[dict] | str | None = None,
               qrels: dict[str, list[tuple] | str] | None = None) -> Path:
    """Write a BEIR folder; strings are written verbatim (for malformed files), lists are serialised."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = CORPUS if corpus is None else corpus
    queries = QUERIES if queries is None else queries
    qrels = {"train": TRAIN, "test": TEST} if qrels is None else qrels
    (folder / "corpus.jsonl").write_text(corpus if isinstance(corpus, str) else jsonl(corpus), encoding="utf-8")
    (folder / "queries.jsonl").write_text(queries if isinstance(queries, str) else jsonl(queries), encoding="utf-8")
    for split, rows in qrels.items():
        (folder / "qrels" / f"{split}.tsv").write_text(rows if isinstance(rows, str) else tsv(rows), encoding="utf-8")
    return folder


# ------------------------------------------------------------------ Natural Questions (simplified)
LONG = "one two three four five six seven eight nine"


def example(eid: int, question: str, paragraphs: list[str], answer: int | None = 0, nested: bool = False) -> dict:
    """A simplified-NQ record whose page is one <P> per paragraph (plus a nested <Td> when asked)."""
    tokens = ["<H1>", "Page", "</H1>"]
    candidates = []
    for text in paragraphs:
        start = len(tokens)
        tokens += ["<P>", *text.split(), "</P>"]
        candidates.append({"start_token": start, "end_token": len(tokens), "top_level": True})
    if nested:  # a candidate inside the first paragraph: not top level, never a negative
        first = candidates[0]
        candidates.append({"start_token": first["start_token"] + 1, "end_token": first["end_token"] - 1, "top_level": False})
    if answer is None:
        long_answer = {"start_token": -1, "end_token": -1, "candidate_index": -1}
    else:
        long_answer = {**{k: candidates[answer][k] for k in ("start_token", "end_token")}, "candidate_index": answer}
    return {
        "example_id": eid, "question_text": question, "document_text": " ".join(tokens),
        "document_url": "https://en.wikipedia.org/wiki/Page", "long_answer_candidates": candidates,
        "annotations": [{"annotation_id": 1, "long_answer": long_answer, "short_answers": [], "yes_no_answer": "NONE"}],
    }


def lines(*records: dict) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


GOOD_NQ = lines(
    example(1, "who wrote it", [f"the answer {LONG}", f"other para {LONG}", "too short", f"third para {LONG}"], nested=True),
    example(2, "when was it", [f"intro {LONG}", f"second answer {LONG}"], answer=1),
    example(3, "no answer here", [f"nothing {LONG}"], answer=None),
    example(4, "where is it", [f"place {LONG}", f"the answer {LONG}"], answer=1),
)


ESCI_TOPICS = ("running shoes", "coffee grinder", "phone case", "yoga mat", "desk lamp", "water bottle",
               "wireless mouse", "rain jacket", "cast iron pan", "guitar strings", "dog leash", "tent stakes")
ESCI_COLUMNS = ("example_id", "query", "query_id", "product_id", "product_locale", "esci_label", "small_version",
                "large_version", "split", "product_title", "product_description", "product_bullet_point",
                "product_brand", "product_color")


def esci_rows(labels: tuple[str, str, str, str] = ("Exact", "Substitute", "Complement", "Irrelevant")) -> list[dict]:
    """Rows shaped like Amazon's ESCI examples joined with its products: one product per label for each of 12
    queries; every third product has no description (the real file has many)."""
    rows = []
    for q, topic in enumerate(ESCI_TOPICS):
        other = ESCI_TOPICS[(q + 5) % len(ESCI_TOPICS)]
        titles = (f"Acme {topic} deluxe", f"Budget {topic} alternative", f"Cleaning kit for {topic}",
                  f"Acme {other} classic")
        for k, (label, title) in enumerate(zip(labels, titles)):
            n = 4 * q + k
            rows.append({
                "example_id": str(n), "query": f"best {topic}", "query_id": str(q), "product_id": f"B{n:05d}",
                "product_locale": "us", "esci_label": label, "small_version": "1", "large_version": "1",
                "split": "train", "product_title": title,
                "product_description": "" if n % 3 == 2 else f"A {title.lower()} made for everyday use.",
                "product_bullet_point": f"Durable\nLightweight {topic}", "product_brand": "Acme", "product_color": "black",
            })
    return rows


def write_esci_csv(path: Path, labels: tuple[str, str, str, str] = ("Exact", "Substitute", "Complement", "Irrelevant")) -> Path:
    """:func:`esci_rows` as a CSV file."""
    import pandas as pd

    pd.DataFrame(esci_rows(labels), columns=list(ESCI_COLUMNS)).to_csv(path, index=False)
    return path
