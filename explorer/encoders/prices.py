"""What embedding texts through an API will cost, before the first request: tokens times a dated price list.

The prices are OpenAI's list prices for its embedding models in US dollars per million input tokens, as
announced with the text-embedding-3 models ("New embedding models and API updates", OpenAI, 2024-01-25,
https://openai.com/index/new-embedding-models-and-api-updates/) and listed on
https://platform.openai.com/docs/pricing since; :data:`PRICES_AS_OF` is the date of the prices in the table
(not checked against the live page since: check it before relying on a figure, and update the table and the
date together). A model not in the table (an OpenAI-compatible
server's own model) has no price: the estimate then gives the tokens and says the cost is unknown.

Tokens are counted as the encoder counts them (:class:`~explorer.encoders.tokens.TokenCounter`: exact with
tiktoken, else an estimate that errs high), after the encoder's own overflow handling would cut a text, so
the estimate is an upper bound of what the requests will be billed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from explorer.encoders.tokens import TokenCounter

PRICES_PER_MILLION_TOKENS = {
    "text-embedding-3-small": 0.02,
    "text-embedding-3-large": 0.13,
    "text-embedding-ada-002": 0.10,
}
"""US dollars per million input tokens (standard tier, not the half-price Batch API)."""
PRICES_AS_OF = "2024-01-25"
PRICES_SOURCE = "https://platform.openai.com/docs/pricing"
OPENAI_HOSTS = ("api.openai.com",)


@dataclass(frozen=True)
class CostEstimate:
    """Tokens and dollars of one embedding pass.

    Attributes:
        texts: texts counted.
        tokens: input tokens (exact, or an estimate that errs high; see ``exact``).
        usd: the cost in US dollars, or None when the model has no listed price.
        price_per_million: the price used, or None.
        model: the model priced.
        exact: whether tokens were counted with the model's tokenizer (tiktoken).
        source, as_of: where the price comes from and when the table was checked.
    """

    texts: int
    tokens: int
    usd: float | None
    price_per_million: float | None
    model: str
    exact: bool
    source: str = PRICES_SOURCE
    as_of: str = PRICES_AS_OF

    def describe(self) -> str:
        """One line for people: "1,234 texts, about 56,789 tokens: about $0.0011 (price of 2025-06-01, ...)"."""
        about = "" if self.exact else "about "
        head = f"{self.texts:,} texts, {about}{self.tokens:,} tokens"
        if self.usd is None:
            return f"{head}: no listed price for {self.model} (a compatible server's own model; check its provider)"
        return (f"{head}: {about}${self.usd:,.4f} at ${self.price_per_million}/M tokens "
                f"(price list of {self.as_of}, {self.source})")


def price_per_million(model: str, base_url: str | None = None) -> float | None:
    """The listed price of ``model`` in dollars per million tokens, or None when it has none; a model served
    by another host than OpenAI's is not priced with OpenAI's list (the name alone says nothing of its price)."""
    if base_url is not None and not any(host in base_url for host in OPENAI_HOSTS):
        return None
    return PRICES_PER_MILLION_TOKENS.get(model)


def estimate_cost(texts: Iterable[str], model: str, *, base_url: str | None = None, max_tokens: int | None = None,
                  counter: TokenCounter | None = None) -> CostEstimate:
    """The cost of embedding ``texts`` once with ``model``, counted offline before any request.

    Args:
        texts: the texts to embed (duplicates count once, as the encoder sends them once).
        model: the model name ("text-embedding-3-small"...).
        base_url: the endpoint; a non-OpenAI host gets no price.
        max_tokens: the encoder's per-text limit: a longer text is counted at the limit (truncation).
        counter: the token counter to use (by default one for ``model``).
    """
    counter = counter or TokenCounter(model)
    unique = list(dict.fromkeys(str(t) for t in texts))
    tokens = 0
    for text in unique:
        n = max(counter.count(text if text.strip() else " "), 1)
        tokens += min(n, max_tokens) if max_tokens else n
    price = price_per_million(model, base_url)
    usd = None if price is None else tokens * price / 1_000_000
    return CostEstimate(texts=len(unique), tokens=tokens, usd=usd, price_per_million=price, model=model,
                        exact=counter.exact)
