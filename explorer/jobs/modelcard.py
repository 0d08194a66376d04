"""The model card that travels with every downloaded model (PyTorch, ONNX, int8 ONNX, adapter).

A card is the ``README.md`` of the Hugging Face hub: YAML metadata (base model, library, tags and the
evaluation results in the hub's ``model-index`` format) followed by prose. The metadata is built with
``huggingface_hub``'s :class:`~huggingface_hub.ModelCardData` / :class:`~huggingface_hub.EvalResult`, so the
hub and other tools read it; the prose is written here from the run's own files (``config.json`` and
``evaluation.json``), so every number in the card is the number the run recorded.

sentence-transformers writes a card of its own when it saves a model, but it knows only what its trainer
saw (losses, evaluator logs); it cannot carry the baseline-vs-tuned comparison with confidence intervals, the
generalization check or an adapter, so the exported card replaces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from explorer.evaluation.display import p_value_text, value_text
from explorer.evaluation.novelty import split_line

CARD_FILE = "README.md"
METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100", "map@100")
TRAINING_KEYS = ("method", "loss", "epochs", "batch_size", "learning_rate", "max_seq_length", "warmup_ratio",
                 "use_hard_negatives", "num_negatives", "seed", "freeze_layers", "mini_batch_size")


NUDGE_KEYS = ("method", "min_positive_grade", "seed")
HOW = {"full": "all weights trained", "adapter": "a linear adapter on its frozen embeddings",
       "nudge": "NUDGE-N: the embeddings of passages that training queries reach moved within a bound; the model "
                "and queries unchanged"}
NUDGE_LIMIT = ("It can help only passages that training queries reached: a passage that was not in the training "
               "corpus, or that no training query judged relevant, keeps the base model's vector, so on test "
               "queries whose relevant passages are new it cannot gain, and the moved passages may crowd them a "
               "little (see the split by novelty below).\n")


def _fmt(value: Any, digits: int = 3) -> str:
    return value_text(value, digits) if isinstance(value, float) or value is None else str(value)


def _ci(pair: Any) -> str:
    if not pair or len(pair) != 2 or pair[0] is None:
        return ""
    return f" [{pair[0]:.3f}, {pair[1]:.3f}]"


def _p(value: Any) -> str:
    return p_value_text(value)


def _metric_rows(evaluation: dict[str, Any]) -> list[str]:
    comparison = (evaluation.get("comparison") or {}).get("metrics") or {}
    baseline, tuned = evaluation.get("baseline") or {}, evaluation.get("tuned") or {}
    rows = []
    for m in list(comparison) or [m for m in METRICS if m in tuned]:
        c = comparison.get(m) or {}
        b_val, t_val = c.get("mean_a", baseline.get(m)), c.get("mean_b", tuned.get(m))
        delta = c.get("delta", (t_val - b_val) if t_val is not None and b_val is not None else None)
        rows.append(f"| {m} | {_fmt(b_val)}{_ci(c.get('ci_a'))} | {_fmt(t_val)}{_ci(c.get('ci_b'))} | "
                    f"{_fmt(delta, 3) if delta is None else f'{delta:+.3f}'}{_ci(c.get('ci_delta'))} | {_p(c.get('p_value'))} |")
    return rows


def _generalization_rows(evaluation: dict[str, Any]) -> list[str]:
    rows = []
    for check in evaluation.get("generalization") or []:
        if check.get("a", "baseline") != "baseline":  # a check against another run: not this card's baseline column
            continue
        c = (check.get("comparison") or {}).get("metrics", {}).get("ndcg@10") or {}
        if c:
            rows.append(f"| {check.get('dataset', '?')} | {_fmt(c.get('mean_a'))} | {_fmt(c.get('mean_b'))} | "
                        f"{c.get('delta', 0):+.3f}{_ci(c.get('ci_delta'))} | {_p(c.get('p_value'))} |")
    return rows


def _nudge_parts(nudge: dict[str, Any] | None) -> list[str]:
    """What the corpus-side recipe moved: the bound kept and how many passages it moved."""
    from explorer.training.nudge import facts_line

    return [facts_line(nudge) + "\n"] if nudge else []


def _selection_parts(selection: dict[str, Any] | None) -> list[str]:
    """The "Checkpoint selection" section: which point was kept, chosen on held-out training queries."""
    if not selection:
        return []
    lines = ["## Checkpoint selection\n", f"{selection.get('summary', '')}\n"]
    if selection.get("gain") is False and selection.get("kept") != "last":
        lines.append("These weights are the base model's: tuning did not help on this data. "
                     f"{selection.get('next_steps', '')}\n")
    return lines


def _usage(kind: str, folder: str, max_length: int) -> str:
    if kind == "adapter":
        return (
            "This is a linear adapter applied on top of the frozen base model's embeddings "
            f"(`{folder}/`, a weight matrix in safetensors plus its config). With this project installed:\n\n"
            "```python\nfrom explorer.encoders.registry import load_encoder\n"
            f"encoder = load_encoder(\"{folder}\")\nvectors = encoder.encode([\"a query\"], \"query\")\n```\n"
        )
    if kind == "nudge":
        return (
            "These are passage vectors, not a model: the base model's embeddings of the training corpus's passages "
            f"that training queries reached, moved toward those queries (`{folder}/nudge.safetensors`, rows keyed "
            "by the SHA-1 of the passage text). Embed queries and passages with the base model as usual, then put "
            f"these rows in (`{folder}/apply_nudge.py`):\n\n"
            "```python\nfrom apply_nudge import apply\npassage_vectors = apply(passage_texts, passage_vectors)\n```\n\n"
            "With this project installed, the run folder loads as one encoder: "
            "`load_encoder(\"<run folder>\")`.\n"
        )
    if kind in ("onnx", "onnx-int8"):
        file = "onnx/model_qint8_avx2.onnx" if kind == "onnx-int8" else "onnx/model.onnx"
        return (
            f"An ONNX export (`{folder}/{file}`) with its tokenizer; it runs with onnxruntime alone:\n\n"
            "```python\nimport numpy as np, onnxruntime as ort\nfrom transformers import AutoTokenizer\n"
            f"tok = AutoTokenizer.from_pretrained(\"{folder}\")\n"
            f"session = ort.InferenceSession(\"{folder}/{file}\")\n"
            f"batch = tok([\"a query\"], padding=True, truncation=True, max_length={max_length}, return_tensors=\"np\")\n"
            "inputs = {i.name: batch[i.name] for i in session.get_inputs()}\n"
            "tokens = session.run(None, inputs)[0]\n"
            "mask = batch[\"attention_mask\"][..., None]\n"
            "vectors = (tokens * mask).sum(1) / mask.sum(1)  # mean pooling\n"
            "vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)\n```\n\n"
            "With `optimum-onnx` installed, sentence-transformers loads it too: "
            f"`SentenceTransformer(\"{folder}\", backend=\"onnx\", model_kwargs={{\"file_name\": \"{file}\"}})`.\n"
        )
    return (
        "A sentence-transformers model:\n\n"
        "```python\nfrom sentence_transformers import SentenceTransformer\n"
        f"model = SentenceTransformer(\"{folder}\")\n"
        "vectors = model.encode([\"a query\"], normalize_embeddings=True)\n```\n"
    )


def _api_base(spec: str) -> tuple[str, str] | None:
    """(model, endpoint) of an ``openai:`` base model spec, else None."""
    if not spec.lower().startswith("openai:"):
        return None
    from explorer.encoders.openai import OPENAI_URL, ApiModel

    api = ApiModel.parse(spec)
    return api.model, api.base_url or OPENAI_URL


def _is_hub_id(text: str) -> bool:
    """Whether ``text`` reads as a hub repository id (owner/name) rather than a folder or another spec."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return "/" in text and not Path(text).exists()


def _markdown_text(text: str) -> str:
    """``text`` with every ASCII punctuation character backslash-escaped, so markdown shows it as typed
    (CommonMark lets any of them be escaped; a user's run name must not become a link or markup)."""
    import re

    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", " ".join(str(text).split()))


def model_card(config: dict[str, Any], evaluation: dict[str, Any] | None, *, kind: str = "model",
               folder: str = "model", max_seq_length: int | None = None, name: str = "") -> str:
    """The card (README.md text) of one run's exported model.

    Args:
        config: the run's ``config.json``.
        evaluation: the run's ``evaluation.json`` (None when it has none: the card says so).
        kind: "model" (PyTorch), "adapter", "onnx" or "onnx-int8": decides the loading instructions.
        folder: the folder name the model has inside the download (used in the loading code).
        max_seq_length: the model's truncation length in tokens (default: the run's, else 256).
        name: the name the user gave the run ("": none); it heads the card, as text.

    Returns:
        Markdown with YAML front matter.
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    evaluation = evaluation or {}
    dataset = config.get("dataset") or {}
    base = str(config.get("base_model") or "sentence-transformers/all-MiniLM-L6-v2")
    hub_base = "sentence-transformers/all-MiniLM-L6-v2" if base.lower() in ("minilm", "default") else base
    api = _api_base(base)
    if api is not None:  # an API model: named by model and endpoint, never taken for a hub id
        hub_base = f"{api[0]} (embeddings API at {api[1]})"
    tuned = evaluation.get("tuned") or {}
    eval_results = [
        EvalResult(task_type="retrieval", dataset_type=str(dataset.get("name") or "dataset"),
                   dataset_name=str(dataset.get("name") or "dataset"), dataset_split=str(evaluation.get("split", "test")),
                   metric_type=m.replace("@", "_at_"), metric_name=m, metric_value=float(tuned[m]))
        for m in METRICS if isinstance(tuned.get(m), (int, float))
    ]
    data = ModelCardData(
        base_model=hub_base if api is None and _is_hub_id(hub_base) else None,
        library_name="sentence-transformers", pipeline_tag="sentence-similarity",
        tags=["sentence-transformers", "sentence-similarity", "feature-extraction", "embedding-fine-tuning-explorer",
              *(["onnx"] if kind.startswith("onnx") else [])],
        model_name=name or f"{config.get('method', 'full')} fine-tune of {hub_base}",
        eval_results=eval_results or None,
    )
    method = config.get("method", "full")
    keys = NUDGE_KEYS if method == "nudge" else TRAINING_KEYS
    training = "\n".join(f"| {k} | {_fmt(config[k], 6)} |" for k in keys if config.get(k) is not None)
    rows = _metric_rows(evaluation)
    n_queries = (evaluation.get("comparison") or {}).get("n_queries") or tuned.get("n_queries")
    test_name = (evaluation.get("comparison") or {}).get("test", "student")
    parts = [
        f"# {method} fine-tune of {hub_base} on {dataset.get('name', 'a custom dataset')}\n",
        f"Fine-tuned from **{hub_base}** ({HOW.get(method, HOW['full'])}) with the embedding fine-tuning explorer.\n",
        *([NUDGE_LIMIT] if method == "nudge" else []),
        "## Data\n",
        f"{dataset.get('summary') or dataset.get('name', 'unknown')}. Queries were split into train and test by query, "
        "so no test query was seen in training.\n",
        *([f"Labels were read as grades: {dataset['grading']['text']}.\n"] if (dataset.get("grading") or {}).get("text") else []),
        "## Training\n", "| setting | value |\n|---|---|\n" + training + "\n",
    ]
    parts += _nudge_parts(evaluation.get("nudge"))
    if evaluation.get("training_seconds") is not None:
        parts.append(f"Training took {evaluation['training_seconds']:.0f} s.\n")
    parts += _selection_parts(evaluation.get("selection"))
    parts.append("## Evaluation (test split)\n")
    if rows:
        parts.append(
            f"Baseline is the base model, tuned is this model, on {n_queries or 'the'} test queries. Brackets are 95% "
            f"bootstrap confidence intervals; p is a paired {'t' if test_name == 'student' else test_name}-test over queries.\n\n"
            "| metric | baseline | tuned | change | p |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    else:
        parts.append("This run has no evaluation results.\n")
    if split_line(evaluation.get("novelty")):
        parts.append("Split by novelty: test queries whose relevant passages no training query has (new passages) and "
                     f"the rest (seen passages). {split_line(evaluation.get('novelty'))}.\n")
    gen = _generalization_rows(evaluation)
    if gen:
        parts.append("## Generalization (another dataset, NDCG@10)\n\nFine-tuning on one domain can cost quality on "
                     "others; this is the change on a dataset the model was not trained on.\n\n"
                     "| dataset | baseline | tuned | change | p |\n|---|---|---|---|---|\n" + "\n".join(gen) + "\n")
    if name:  # the user's name for the run heads the card (as text), above what the run is
        parts[0:1] = [f"# {_markdown_text(name)}\n", "#" + parts[0]]
    max_length = int(max_seq_length or config.get("max_seq_length") or 256)
    parts += ["## How to load it\n", _usage(kind, folder, max_length)]
    return str(ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n" + "\n".join(parts)))
