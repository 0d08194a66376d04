"""An API model customized: SciFact through a real OpenAI-compatible endpoint (infinity-emb serving the bundled
MiniLM on 127.0.0.1), against the same model run locally.

Measures, on this machine's CPU (named in the results):

- Encoding :data:`SAMPLE` SciFact passages (a seeded sample, no cache) through the endpoint with the official
  ``openai`` client (:class:`explorer.encoders.openai.OpenAIEncoder`) against the local model
  (:class:`explorer.encoders.sentence.SentenceTransformerEncoder`) in float32, the precision the server runs
  in, and with the local default (bf16 where the CPU has it). Target: the endpoint ≤ 1.3x the local float32
  time. Both share the same two cores; the server runs in a process of its own.
- The recipes for a model whose weights can't be touched, over the endpoint's embeddings (one embedding pass,
  then the cache), each a whole run with the shipped defaults (:func:`benchmarks.bench_recipes_api.measure`;
  ``python -m benchmarks recipes_api`` runs them over the bundled model): the query-side adapter and the
  corpus-side NUDGE. For each, test NDCG@10 before and after and the change on new passages (test queries
  whose relevant passages no training query cites) beside the seen ones and the overall one.

Needs the infinity-emb virtual environment (``bash .ci/infinity-venv``) and SciFact.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Context, Skip, load_scifact, loadavg, machine_info, r

NAME = "endpoint"
COMPARES_BF16 = True  # measures float32 and the local default itself
SAMPLE = 512
TARGET_RATIO = 1.3
KEY = "benchmark-key-not-secret"


def _server() -> tuple[Any, str]:
    """infinity-emb serving the bundled model's folder (the tests' starter), once it answers."""
    import httpx

    sys.path.insert(0, str(REPO))
    from explorer.encoders.sentence import bundled_model_path
    from tests.encoders import infinity

    command = infinity.executable()
    if command is None:
        raise Skip(f"no infinity-emb venv at {infinity.venv()}; {infinity.SETUP_HINT}")
    log = Path(os.environ.get("EXPLORER_HOME", "/tmp")) / "infinity-bench.log"
    process, url = infinity.start(command, bundled_model_path(), log)
    deadline = time.monotonic() + infinity.START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"infinity_emb exited: {log.read_text(errors='replace')[-1000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    infinity.stop(process)
    raise RuntimeError("infinity_emb did not answer")


def _encode_seconds(texts: list[str], url: str) -> dict[str, float]:
    """Seconds to embed ``texts`` (no cache) locally in float32, locally with the defaults, and through ``url``."""
    from explorer.encoders.openai import OpenAIEncoder
    from explorer.encoders.sentence import SentenceTransformerEncoder
    from tests.encoders.infinity import SERVED_NAME

    out = {}
    for label, encoder in (("local_float32", SentenceTransformerEncoder("minilm", bf16=False, cache_dir=None)),
                           ("local_default", SentenceTransformerEncoder("minilm", cache_dir=None)),
                           ("endpoint", OpenAIEncoder.from_spec(f"openai:{SERVED_NAME}?base_url={url}", KEY,
                                                                cache_dir=None))):
        encoder.encode(texts[:8], "passage")  # load and warm up, not timed
        started = time.perf_counter()
        encoder.encode(texts, "passage")
        out[label] = r(time.perf_counter() - started, 2)
    return out


def _methods() -> list[str]:
    """The recipes this checkout offers for a frozen model."""
    from explorer.training.config import FROZEN_METHODS

    return list(FROZEN_METHODS)


def run(ctx: Context) -> dict[str, Any]:
    from tests.encoders.infinity import SERVED_NAME, stop

    scifact = ctx.need_scifact()
    out: dict[str, Any] = {"machine": {k: machine_info().get(k) for k in ("cpu_model", "bf16_native", "date")},
                           "loadavg_before": loadavg()}
    dataset = load_scifact(scifact)
    pids = sorted(random.Random(0).sample(dataset.passage_ids(), SAMPLE))
    process, url = _server()
    try:
        seconds = _encode_seconds(dataset.passage_texts(pids), url)
        ratio = seconds["endpoint"] / seconds["local_float32"]
        out["encode"] = {"passages": SAMPLE, "seconds": seconds, "endpoint_vs_local_float32": r(ratio, 2),
                         "target": TARGET_RATIO, "met": ratio <= TARGET_RATIO}
        print(f"   encode: {out['encode']}", flush=True)
        from benchmarks.bench_recipes_api import measure
        from explorer.encoders.openai import OpenAIEncoder

        spec = f"openai:{SERVED_NAME}?base_url={url}"
        out["recipes"] = {}
        for method in _methods():  # the bundled model's own runs: python -m benchmarks recipes_api
            print(f"   scifact / endpoint / {method} ...", flush=True)
            out["recipes"][f"endpoint/{method}"] = measure(dataset, method, spec, ctx,
                                                           base_encoder=OpenAIEncoder.from_spec(spec, KEY))
    finally:
        stop(process)
    out["loadavg_after"] = loadavg()
    out["summary"] = {"encode": out["encode"],
                      "recipes": {k: {"ndcg@10": v["ndcg@10"], "delta_new": v["by_novelty"].get("new", {}).get("delta"),
                                      "delta_seen": v["by_novelty"].get("seen", {}).get("delta")}
                                  for k, v in out["recipes"].items()}}
    return out
