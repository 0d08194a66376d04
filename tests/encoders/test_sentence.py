"""The sentence-transformers encoder on a tiny randomly initialised model (fast; no network)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from explorer.encoders.hardware import cpu_supports_bf16
from explorer.encoders.registry import load_encoder
from explorer.encoders.sentence import SentenceTransformerEncoder, bundled_model_path
from explorer.core.errors import ModelError

TEXTS = ["the cat sat on the mat", "stock prices fell sharply", "a kitten sleeps"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 2-layer, 32-dimensional BERT with MiniLM's tokenizer, saved as a sentence-transformers folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny")
    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path())
    tokenizer.save_pretrained(root / "hf")
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(root / "hf")
    model = SentenceTransformer(str(root / "hf"), device="cpu", local_files_only=True)
    model.save(str(root / "st"))
    return root / "st"


def _saved_variant(source, target, change=None, **attrs):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    for key, value in attrs.items():
        setattr(model, key, value)
    if change:
        change(model)
    model.save(str(target))
    return str(target)


def test_a_local_model_encodes_unit_vectors_and_fingerprints_without_loading(tiny, tmp_path):
    enc = SentenceTransformerEncoder(str(tiny), cache_dir=tmp_path)
    fingerprint = enc.fingerprint
    assert enc.kind_fingerprint("query") == enc.kind_fingerprint("passage") == fingerprint
    assert enc._model is None  # fingerprinting read files; it loaded nothing
    assert enc.bf16 is cpu_supports_bf16()  # on with AMX / AVX512-BF16, off on AVX2-only CPUs
    out = enc.encode(TEXTS)
    assert out.shape == (3, 32) and enc.dim == 32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    direct = enc.model.encode(TEXTS, normalize_embeddings=True)  # plain fp32
    if enc.bf16:  # bf16 autocast: the same vectors up to bf16 rounding
        assert (out * direct).sum(axis=1).min() > 0.99
    else:
        np.testing.assert_allclose(out, direct, atol=1e-5)
    fp32 = SentenceTransformerEncoder(str(tiny), cache_dir=None, bf16=False).encode(TEXTS)
    np.testing.assert_allclose(fp32, direct, atol=1e-5)


def test_fingerprint_survives_a_resave_and_changes_with_any_weight(tiny, tmp_path):
    import torch

    same = _saved_variant(tiny, tmp_path / "same")
    assert SentenceTransformerEncoder(same).fingerprint == SentenceTransformerEncoder(str(tiny)).fingerprint

    def nudge_middle_layer(model):  # bytes in the middle of the file: sampling its ends would miss this
        with torch.no_grad():
            model[0].auto_model.encoder.layer[0].attention.self.query.weight[3, 3] += 1e-3

    nudged = _saved_variant(tiny, tmp_path / "nudged", nudge_middle_layer)
    assert SentenceTransformerEncoder(nudged).fingerprint != SentenceTransformerEncoder(str(tiny)).fingerprint
    shorter = SentenceTransformerEncoder(str(tiny), max_seq_length=8)
    assert shorter.fingerprint != SentenceTransformerEncoder(str(tiny)).fingerprint
    assert shorter.model.max_seq_length == 8


def test_prompts_make_queries_and_passages_differ_and_cache_apart(tiny, tmp_path):
    folder = _saved_variant(tiny, tmp_path / "prompted", prompts={"query": "query: ", "document": "passage: "})
    enc = SentenceTransformerEncoder(folder, cache_dir=tmp_path / "cache", bf16=False)  # exact comparison below
    assert enc.kind_fingerprint("query") != enc.kind_fingerprint("passage")
    assert enc._model is None  # read from config_sentence_transformers.json
    q, p = enc.encode(["apples"], "query"), enc.encode(["apples"], "passage")
    assert float(q[0] @ p[0]) < 0.9999
    np.testing.assert_allclose(q[0], enc.model.encode(["query: apples"], normalize_embeddings=True)[0], atol=1e-5)


def test_an_in_memory_model_is_an_encoder_whose_fingerprint_follows_its_weights(tiny, tmp_path):
    import torch

    path_encoder = SentenceTransformerEncoder(str(tiny), cache_dir=None)
    model = path_encoder.model
    enc = SentenceTransformerEncoder.from_model(model, name="fine-tuned", cache_dir=tmp_path)
    vectors_before = enc.encode(TEXTS)
    np.testing.assert_allclose(vectors_before, path_encoder.encode(TEXTS), atol=1e-6)
    before = enc.fingerprint
    assert enc.fingerprint == before
    with torch.no_grad():
        next(model.parameters()).mul_(1.5)  # what an optimizer step does: change weights in place
    after = enc.fingerprint
    assert after != before
    assert not np.allclose(enc.encode(TEXTS), vectors_before, atol=1e-4)  # not served from the old cache
    assert SentenceTransformerEncoder.from_model(model, fingerprint="given").fingerprint != after


def test_forced_bf16_runs_autocast_and_gets_its_own_fingerprint(tiny, monkeypatch):
    monkeypatch.setenv("EXPLORER_BF16", "0")
    fp32 = SentenceTransformerEncoder(str(tiny), cache_dir=None)
    assert fp32.bf16 is False  # decided on first use, from the settings of that moment
    monkeypatch.setenv("EXPLORER_BF16", "1")
    bf16 = SentenceTransformerEncoder(str(tiny), cache_dir=None)
    assert bf16.bf16 is True and bf16.fingerprint != fp32.fingerprint
    a, b = fp32.encode(TEXTS), bf16.encode(TEXTS)
    assert b.dtype == np.float32
    assert np.all(np.sum(a * b, axis=1) > 0.99)


def test_the_model_loads_once_across_threads(tiny, monkeypatch):
    enc = SentenceTransformerEncoder(str(tiny))
    loads = []
    real = enc._load
    monkeypatch.setattr(enc, "_load", lambda: loads.append(1) or real())
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(enc.model)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and all(m is seen[0] for m in seen)


def test_an_unreachable_hub_id_is_a_clear_model_error():
    enc = load_encoder("foo/bar")
    with pytest.raises(ModelError, match=r"'foo/bar' is not a local model folder and the Hugging Face hub could not be reached"):
        enc.model


def test_a_broken_model_folder_names_the_folder(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="Could not load the model in"):
        SentenceTransformerEncoder(str(tmp_path)).model


def test_batches_are_padded_to_a_multiple_of_32_tokens_and_the_vectors_stay_the_same(tiny):
    """Few batch shapes keep the heap from growing with every new text length (see PAD_TO_MULTIPLE_OF); the
    attention mask hides the padding, so each text's vector is what it is unpadded."""
    from explorer.encoders.sentence import PAD_TO_MULTIPLE_OF

    encoder = SentenceTransformerEncoder(str(tiny), cache_dir=None, bf16=False)
    texts = ["a cat", "stock prices fell sharply " * 6, "rain " * 40]
    widths: list[int] = []
    hook = encoder.model[0].register_forward_pre_hook(
        lambda module, args: widths.append(args[0]["input_ids"].shape[1]))
    try:
        padded = encoder.encode(texts, use_cache=False, batch_size=1)
    finally:
        hook.remove()
    assert PAD_TO_MULTIPLE_OF == 32 and widths and all(w % 32 == 0 for w in widths) and len(set(widths)) > 1
    plain = encoder.model.encode_document(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(padded, plain, atol=1e-5)


@pytest.mark.parametrize(("max_seq_length", "multiple"), [(48, 16), (100, None), (64, 32)])
def test_the_padding_divides_the_truncation_length(tiny, max_seq_length, multiple):
    """The tokenizer refuses to truncate to 48 tokens and pad to a multiple of 32: such a model pads to 16."""
    encoder = SentenceTransformerEncoder(str(tiny), cache_dir=None, bf16=False, max_seq_length=max_seq_length)
    padding = encoder._padding(encoder.model)
    assert padding.get("processing_kwargs", {}).get("text", {}).get("pad_to_multiple_of") == multiple
    assert encoder.encode(["rain " * 80, "a cat"], use_cache=False).shape[0] == 2
