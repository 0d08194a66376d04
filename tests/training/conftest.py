"""Fixtures for training tests: a tiny randomly initialised BERT sentence-transformer and a tiny dataset.

The model (hidden size 32, one layer, a WordPiece vocabulary of the dataset's words) trains a step in
milliseconds, so the real trainer, losses, saving and loading paths run in every test without MiniLM.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer.data.model import Dataset, Passage

TOPICS = {
    "coffee": ["espresso", "beans", "roast", "caffeine", "brew"],
    "rain": ["clouds", "storm", "umbrella", "wet", "weather"],
    "python": ["code", "snake", "programming", "language", "script"],
    "moon": ["orbit", "tides", "lunar", "night", "crater"],
    "bread": ["flour", "yeast", "oven", "bake", "dough"],
    "music": ["guitar", "song", "melody", "piano", "rhythm"],
    "ocean": ["waves", "salt", "fish", "deep", "coral"],
    "train": ["rail", "station", "ticket", "track", "engine"],
}


def tiny_dataset() -> Dataset:
    """8 topics x 2 queries, 3 passages per topic; 12 train queries, 4 test queries; grades 2 and 1."""
    queries, corpus, qrels, split = {}, {}, {}, {}
    for t, (topic, words) in enumerate(TOPICS.items()):
        for j in range(3):
            corpus[f"{topic}-p{j}"] = Passage(f"{topic}-p{j}", f"{topic} {words[j]} {words[j + 1]} and more {words[(j + 2) % 5]}", title=topic)
        for j in range(2):
            qid = f"{topic}-q{j}"
            queries[qid] = f"what about {topic} {words[j]}"
            qrels[qid] = {f"{topic}-p{j}": 2, f"{topic}-p{j + 1}": 1, f"{TOPICS_LIST[(t + 1) % 8]}-p2": 0}
            split[qid] = "test" if (t % 4 == 0) else "train"
    return Dataset("tiny", queries, corpus, qrels, split, source="tests").validate()


TOPICS_LIST = list(TOPICS)


def write_beir(dataset: Dataset, folder: Path) -> Path:
    """Write a dataset as a BEIR folder (corpus.jsonl, queries.jsonl, qrels/train.tsv and test.tsv)."""
    import json

    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for p in dataset.corpus.values():
            fh.write(json.dumps({"_id": p.id, "title": p.title, "text": p.text}) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        for qid, text in dataset.queries.items():
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    for part in ("train", "test"):
        rows = [f"{q}\t{p}\t{g}" for q, judged in dataset.qrels.items() if dataset.split.get(q) == part for p, g in judged.items()]
        (folder / "qrels" / f"{part}.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n")
    return folder


def build_tiny_model(folder: Path, layers: int = 1) -> Path:
    """Save a random BERT (1 layer unless told) with mean pooling as a sentence-transformers folder; returns it."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = {w for ws in TOPICS.items() for w in [ws[0], *ws[1]]}
    words.update(re.findall(r"[a-z]+", "what about and more the a of is in to"))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words), *"abcdefghijklmnopqrstuvwxyz.,"]
    raw = folder / "raw"
    raw.mkdir(parents=True)
    (raw / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(raw / "vocab.txt"), do_lower_case=True)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=64)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(raw))
    tokenizer.save_pretrained(str(raw))
    word = models.Transformer(str(raw), max_seq_length=48)
    pooling = models.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    st_dir = folder / "st"
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(st_dir))
    return st_dir


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny matrices: one thread is as fast, and on a busy 2-CPU machine torch's spinning pool is 20x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """Path (str) of the tiny sentence-transformers model, built once per session."""
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-bert")))


@pytest.fixture(scope="session")
def tiny_deep_model_dir(tmp_path_factory) -> str:
    """A 3-layer version of the tiny model (for freezing lower layers)."""
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-bert-3"), layers=3))


@pytest.fixture
def tiny_data() -> Dataset:
    return tiny_dataset()


@pytest.fixture(scope="session")
def tiny_beir(tmp_path_factory) -> str:
    """The tiny dataset as a BEIR folder (for the CLI)."""
    return str(write_beir(tiny_dataset(), tmp_path_factory.mktemp("tiny-beir") / "tiny"))
