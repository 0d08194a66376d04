"""Length buckets: the same embeddings, loss and gradients as the unsplit batch, less work on padding."""

from __future__ import annotations

import pytest

from explorer.training.buckets import MIN_BUCKET_ROWS, _buckets, length_bucketed

WORDS = "rain moon ocean python snake music river stone cloud forest".split()


def _texts(n):
    # Lengths from 1 to 10 words, shuffled, so every bucket pads differently.
    return [" ".join(WORDS[: 1 + (7 * i) % 10]) for i in range(n)]


def _loss_and_grads(model, texts, bucketed):
    import torch
    from contextlib import nullcontext

    model.eval()  # no dropout: both runs must see the same function
    model.zero_grad()
    features = model.preprocess(texts)
    with length_bucketed(model) if bucketed else nullcontext():
        emb = model(features)["sentence_embedding"]
    loss = (emb @ emb.T).logsumexp(dim=1).sum()
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return emb.detach(), grads


def test_bucketed_batch_matches_the_plain_one(tiny_deep_model_dir):
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(tiny_deep_model_dir, device="cpu")
    texts = _texts(4 * MIN_BUCKET_ROWS)
    plain, plain_grads = _loss_and_grads(model, texts, bucketed=False)
    calls = []
    original = model[0].forward
    model[0].forward = lambda features, **kw: calls.append(features["input_ids"].shape) or original(features, **kw)
    bucketed, grads = _loss_and_grads(model, texts, bucketed=True)
    del model[0].forward
    assert len(calls) == 4 and max(shape[1] for shape in calls) > min(shape[1] for shape in calls)  # own widths
    torch.testing.assert_close(bucketed, plain, atol=1e-5, rtol=1e-4)
    assert grads.keys() == plain_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, plain_grads[name], atol=1e-5, rtol=1e-3)
    assert "forward" not in vars(model[0])  # the module is itself again after the context


def test_small_batches_are_not_split():
    import torch

    assert len(_buckets(torch.arange(MIN_BUCKET_ROWS * 2 - 1))) == 1
    buckets = _buckets(torch.tensor([3, 9, 1, 7] * MIN_BUCKET_ROWS))
    assert len(buckets) == 4
    assert [int(i) for i in torch.cat(buckets)][:MIN_BUCKET_ROWS] == [i for i in range(1, 4 * MIN_BUCKET_ROWS, 4)]


@pytest.mark.parametrize("extra", ["pixel_values"])
def test_unknown_inputs_run_unsplit(tiny_deep_model_dir, extra):
    import torch
    from sentence_transformers import SentenceTransformer

    from explorer.training.buckets import BucketedForward

    seen = []
    run = BucketedForward(lambda features, **kw: seen.append(features["input_ids"].shape) or features)
    features = {"input_ids": torch.ones(32, 5, dtype=torch.long), "attention_mask": torch.ones(32, 5, dtype=torch.long),
                extra: torch.zeros(32, 1)}
    run(features)
    assert seen == [(32, 5)]
