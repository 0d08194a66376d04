"""The one place that reads environment variables and decides default paths and limits.

Nothing else reads ``os.environ`` for these, so a test can point the whole library at a temporary folder by
setting ``EXPLORER_HOME`` (or by passing a :class:`Settings`). :func:`get_settings` gives the *server's*
settings; a function that works on a visitor's data takes the workspace's settings (or its paths) from its
caller instead, and where it keeps a fallback for the command line it asks :func:`settings_for`, which refuses
in public mode. The few server-wide reads of :func:`get_settings` (device, bfloat16, the shared embedding
cache, where workspaces live) are listed with their reason in ``tests/test_settings_rule.py``.

Environment variables:
    EXPLORER_HOME: root folder for runs, caches and vector stores (default ``./workspace``).
    EXPLORER_PUBLIC: ``1`` to isolate visitors in private workspaces and cap sizes (default: on when
        running on Streamlit Community Cloud, off elsewhere).
    EXPLORER_MAX_UPLOAD_MB, EXPLORER_MAX_UNPACKED_MB, EXPLORER_MAX_PASSAGES, EXPLORER_MAX_QUERIES,
    EXPLORER_MAX_NEGATIVES_PER_QUERY, EXPLORER_MAX_TEXT_CHARS, EXPLORER_MAX_EPOCHS, EXPLORER_MAX_JOBS,
    EXPLORER_MAX_JOBS_PER_WORKSPACE, EXPLORER_JOB_TIME_LIMIT_MINUTES, EXPLORER_HUB_MAX_PARAMETERS,
    EXPLORER_WORKSPACE_TTL_HOURS: limits, see :class:`Settings`.
    EXPLORER_WORKSPACE_KEY: the key that signs public workspace ids (default: a random key kept in
        ``<home>/.workspace_key``; see :mod:`explorer.workspace.ids`).
    EXPLORER_CHROMA_HOST / EXPLORER_CHROMA_PORT: use a Chroma server instead of the on-disk store.
    EXPLORER_ENCODER: ``fake`` swaps the default encoder for the deterministic fake (tests, fast demos).
    EXPLORER_DEVICE: force ``cpu`` / ``cuda``; EXPLORER_BF16: ``0``/``1`` to force bfloat16 autocast.
    EXPLORER_LOW_MEMORY: ``1`` to bound training memory (GradCache loss in mini-batches; default: on in public
        mode, where the host allows 2.7 GB for everything).
    EXPLORER_WARMUP: seconds after server start before the heavy libraries are imported in the background
        (default 1.5; ``off`` or a negative number turns the warm-up off).
    OPENAI_API_KEY: for the OpenAI embeddings encoder (``openai:<model>``, command line and library only:
        no page of the app offers it, so a hosted app never spends its owner's key on a visitor).
    OPENAI_BASE_URL: the API root of ``openai:<model>`` when the spec names none (an OpenAI-compatible
        server, e.g. ``http://127.0.0.1:7997/v1``); default OpenAI's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PUBLIC_MAX_UPLOAD_MB = 25
"""The upload cap in public mode; ``.streamlit/config.toml``'s ``server.maxUploadSize`` says the same (a test
checks), so Streamlit's own uploader refuses a larger file before the app sees a byte of it."""

BUNDLED_MODEL_ALIASES = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2", "default")


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ValueError(f"Environment variable {name}={value!r} is not a number; unset it or give a number.") from exc


def on_community_cloud() -> bool:
    """Whether the process runs on Streamlit Community Cloud (apps are mounted under ``/mount/src``)."""
    return Path("/mount/src").is_dir() or os.environ.get("HOSTNAME", "") == "streamlit"


@dataclass(frozen=True)
class Settings:
    """Paths and limits. Build one with :func:`get_settings`; tests may construct it directly."""

    home: Path
    public: bool = False
    max_upload_mb: float = 200.0
    max_unpacked_mb: float = 800.0
    max_passages: int = 200_000
    max_queries: int = 100_000
    max_negatives_per_query: int = 200
    max_text_chars: int = 100_000
    max_epochs: int = 20
    max_concurrent_jobs: int = 1
    max_jobs_per_workspace: int = 0
    job_time_limit_minutes: float = 0.0
    workspace_ttl_hours: float = 24.0
    chroma_host: str | None = None
    chroma_port: int = 8000
    encoder_override: str | None = None
    device: str | None = None
    bf16: bool | None = None
    warmup_delay: float | None = 1.5
    low_memory: bool = False
    sample_first_seconds: float = 20.0
    """An encode estimated longer than this shows baseline results on a sample of the corpus first."""
    hub_max_parameters: int = 150_000_000
    """Public mode: the largest hub model (in parameters) a visitor may pick; 150 M parameters are about
    600 MB of float32 weights, which with the demo flow's other memory stays within Community Cloud's 2.7 GB."""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def runs_dir(self) -> Path:
        """Where training runs are written, one folder each."""
        return self.home / "runs"

    @property
    def cache_dir(self) -> Path:
        """Embedding cache, keyed by encoder fingerprint."""
        return self.home / "cache"

    @property
    def store_dir(self) -> Path:
        """The on-disk Search index (:mod:`explorer.store.flat`)."""
        return self.home / "index"

    @property
    def projection_cache_dir(self) -> Path:
        """Cached 2D/3D projections."""
        return self.home / "projections"

    @property
    def uploads_dir(self) -> Path:
        """Datasets a user uploaded, kept so a reload finds them again."""
        return self.home / "uploads"

    def for_workspace(self, workspace_id: str) -> "Settings":
        """Settings of one private workspace (public mode): everything lives under ``home/workspaces/<id>``.

        The embedding cache stays shared: it is keyed by encoder and text hash, so it reveals nothing
        a visitor could not compute, and sharing it saves the machine's two CPUs.
        """
        if not workspace_id.replace("-", "").isalnum():
            raise ValueError(f"Workspace id {workspace_id!r} must be letters, digits and dashes only.")
        return replace(self, home=self.home / "workspaces" / workspace_id, extra={**self.extra, "shared_cache": str(self.cache_dir)})


def get_settings() -> Settings:
    """Read the environment once per call; cheap, so callers need not cache it."""
    public = _flag("EXPLORER_PUBLIC", on_community_cloud())
    home = Path(os.environ.get("EXPLORER_HOME", "workspace")).expanduser().resolve()
    bf16_env = os.environ.get("EXPLORER_BF16")
    return Settings(
        home=home,
        public=public,
        max_upload_mb=_number("EXPLORER_MAX_UPLOAD_MB", PUBLIC_MAX_UPLOAD_MB if public else 200.0),
        # What a .gz or .zip may unpack to: 2x the upload cap in public mode (text packs 3-5x, so a sample
        # that big still loads), 4x locally.
        max_unpacked_mb=_number("EXPLORER_MAX_UNPACKED_MB", 2 * PUBLIC_MAX_UPLOAD_MB if public else 800.0),
        max_passages=int(_number("EXPLORER_MAX_PASSAGES", 20_000 if public else 200_000)),
        max_queries=int(_number("EXPLORER_MAX_QUERIES", 5_000 if public else 100_000)),
        max_negatives_per_query=int(_number("EXPLORER_MAX_NEGATIVES_PER_QUERY", 20 if public else 200)),
        # Public: 20,000 characters, about twenty times what MiniLM reads (256 tokens), and twice SciFact's
        # longest abstract (10,126); a longer text costs tokenizer time and memory for words never seen.
        max_text_chars=int(_number("EXPLORER_MAX_TEXT_CHARS", 20_000 if public else 100_000)),
        max_epochs=int(_number("EXPLORER_MAX_EPOCHS", 5 if public else 20)),
        max_concurrent_jobs=int(_number("EXPLORER_MAX_JOBS", 1)),
        # Public mode: one queued or running job per visitor, and 30 minutes per job (the demo trains in ~4,
        # SciFact in ~17 on 2 CPUs), so one visitor can neither fill the queue nor hold the slot for hours.
        max_jobs_per_workspace=int(_number("EXPLORER_MAX_JOBS_PER_WORKSPACE", 1 if public else 0)),
        job_time_limit_minutes=_number("EXPLORER_JOB_TIME_LIMIT_MINUTES", 30.0 if public else 0.0),
        workspace_ttl_hours=_number("EXPLORER_WORKSPACE_TTL_HOURS", 24.0),
        chroma_host=os.environ.get("EXPLORER_CHROMA_HOST") or None,
        chroma_port=int(_number("EXPLORER_CHROMA_PORT", 8000)),
        encoder_override=os.environ.get("EXPLORER_ENCODER") or None,
        device=os.environ.get("EXPLORER_DEVICE") or None,
        bf16=None if bf16_env in (None, "") else _flag("EXPLORER_BF16", False),
        warmup_delay=_warmup_delay(),
        low_memory=_flag("EXPLORER_LOW_MEMORY", public),
        hub_max_parameters=int(_number("EXPLORER_HUB_MAX_PARAMETERS", 150_000_000)),
        sample_first_seconds=_number("EXPLORER_SAMPLE_FIRST_SECONDS", 20.0),
    )


def settings_for(settings: Settings | None, what: str) -> Settings:
    """The settings a function that touches a visitor's files should use: the ones it was given.

    Locally (one shared workspace) a missing ``settings`` falls back to :func:`get_settings`. In public mode
    that fallback would put one visitor's files where every visitor's land, so a missing workspace is an
    error instead.

    Args:
        settings: the workspace's settings, or None.
        what: what the caller does, for the message ("store an upload").

    Raises:
        WorkspaceRequiredError: public mode and no settings were given.
    """
    if settings is not None:
        return settings
    settings = get_settings()
    if settings.public:
        raise WorkspaceRequiredError(
            f"Cannot {what} without a workspace in public mode: pass the visitor's workspace settings "
            "(Workspace.settings); the server-wide settings are never used for a visitor's data."
        )
    return settings


class WorkspaceRequiredError(RuntimeError):
    """A function that works on a visitor's data was called without the visitor's workspace (public mode).

    A programming error, not bad input: it is raised so a forgotten argument can never leak one visitor's
    files to another.
    """


def _warmup_delay() -> float | None:
    """EXPLORER_WARMUP as seconds, or None when it says the warm-up is off."""
    if os.environ.get("EXPLORER_WARMUP", "").strip().lower() in {"off", "no", "false", "none"}:
        return None
    delay = _number("EXPLORER_WARMUP", 1.5)
    return None if delay < 0 else delay


def openai_api_key() -> str | None:
    """The OpenAI key from the environment (the app's pages never use it; see the module docstring)."""
    return os.environ.get("OPENAI_API_KEY") or None


def openai_base_url() -> str | None:
    """The OpenAI-compatible API root from the environment (``OPENAI_BASE_URL``), as the official client reads it."""
    return os.environ.get("OPENAI_BASE_URL") or None
