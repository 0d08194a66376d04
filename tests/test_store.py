"""The vector store, on disk (exact) and on chromadb: right answers, never stale, batched, no default embedding
function."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer.store import sqlite as _sqlite
from explorer.core.config import get_settings
from explorer.data.model import Dataset, Passage
from explorer.encoders.fake import FakeEncoder
from explorer.core.errors import StorageError
from explorer.store.vectors import PREFIX, Hit, VectorStore, collection_name

PASSAGES = {
    "cat": "The cat purrs on the warm windowsill.",
    "dog": "A dog barks at the mailman every morning.",
    "stock": "Stock markets fell sharply after the report.",
    "rain": "Heavy rain flooded the valley roads overnight.",
    "bake": "Bake the bread at two hundred degrees for forty minutes.",
}


def dataset(extra: dict[str, str] | None = None) -> Dataset:
    corpus = {pid: Passage(pid, text) for pid, text in {**PASSAGES, **(extra or {})}.items()}
    queries = {"q1": "why does my cat purr", "q2": "stock market report"}
    return Dataset("tiny", queries, corpus, {"q1": {"cat": 1}, "q2": {"stock": 1}}, {"q1": "train", "q2": "test"})


@pytest.fixture(params=["disk", "chroma"])
def store(request, tmp_path):
    """The on-disk store, and a chromadb client as a Chroma server's store uses it."""
    if request.param == "disk":
        return VectorStore()
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return VectorStore(client=chromadb.PersistentClient(path=str(tmp_path / "chroma"),
                                                        settings=ChromaSettings(anonymized_telemetry=False)))


def twin(store: VectorStore) -> VectorStore:
    """Another store on the same files or client (another page, another process)."""
    return VectorStore() if store.client is None else VectorStore(client=store.client)


def metadata(store: VectorStore, name: str) -> dict:
    return store._metadata(name)


@pytest.fixture
def encoder(tmp_path):
    return FakeEncoder(dim=64, cache_dir=tmp_path / "cache")


@pytest.fixture
def adds(monkeypatch):
    """Records the size of every batch added: Collection.add calls (a server, a given client), and each file
    written on disk (one batch)."""
    from chromadb.api.models.Collection import Collection

    from explorer.store.flat import FlatIndex

    sizes: list[int] = []
    real, real_write = Collection.add, FlatIndex.write

    def spy(self, ids, *args, **kwargs):
        sizes.append(len(ids))
        return real(self, ids, *args, **kwargs)

    def write_spy(self, name, ids, *args, **kwargs):
        sizes.append(len(ids))
        return real_write(self, name, ids, *args, **kwargs)

    monkeypatch.setattr(Collection, "add", spy)
    monkeypatch.setattr(FlatIndex, "write", write_spy)
    return sizes


def test_search_finds_the_right_passage_with_cosine_scores(store, encoder):
    ds = dataset()
    hits = store.search(ds, encoder, query_texts=["cat purring on a windowsill", "markets fell after the report"], k=3)
    assert [h[0].id for h in hits] == ["cat", "stock"]
    assert [h.rank for h in hits[0]] == [1, 2, 3]
    q = encoder.encode(["cat purring on a windowsill"], "query")[0]
    p = encoder.encode([PASSAGES[hits[0][1].id]], "passage")[0]
    assert hits[0][1].score == pytest.approx(float(q @ p), abs=1e-4)
    assert hits[0][0].score >= hits[0][1].score >= hits[0][2].score


def test_query_vectors_work_and_k_is_capped_at_the_corpus(store, encoder):
    ds = dataset()
    vector = encoder.encode([PASSAGES["rain"]], "query")[0]
    hits = store.search(ds, encoder, query_vectors=vector, k=50)
    assert len(hits) == 1 and len(hits[0]) == len(PASSAGES)
    assert hits[0][0] == Hit("rain", pytest.approx(1.0, abs=1e-4), 1)
    with pytest.raises(ValueError, match="exactly one"):
        store.search(ds, encoder, k=3)
    with pytest.raises(ValueError, match="dimensions"):
        store.search(ds, encoder, query_vectors=np.ones((1, 8)))


def test_a_current_index_is_not_rebuilt(store, encoder, adds):
    ds = dataset()
    name = store.ensure_index(ds, encoder)
    assert name == collection_name(ds, encoder) and name.startswith(PREFIX) and len(name) == len(PREFIX) + 40
    assert store.ensure_index(ds, encoder) == name
    assert twin(store).ensure_index(ds, encoder) == name  # another instance, same folder or client
    assert adds == [len(PASSAGES)]
    meta = metadata(store, name)
    assert meta["dataset_fingerprint"] == ds.fingerprint() and meta["encoder_fingerprint"] == encoder.fingerprint
    assert meta["passages"] == len(PASSAGES) and meta["complete"] is True


def test_a_changed_encoder_or_dataset_gets_its_own_collection(store, encoder):
    ds = dataset()
    first = store.ensure_index(ds, encoder)
    other = FakeEncoder(dim=64, seed=1, cache_dir=None)
    assert store.ensure_index(ds, other) != first
    grown = dataset({"snow": "Snow closed the mountain pass."})
    assert store.ensure_index(grown, encoder) != first
    assert store.search(grown, encoder, query_texts=["snow closed the pass"], k=1)[0][0].id == "snow"
    assert len(store.list_collections()) == 3


@pytest.mark.parametrize("tamper", ["count", "fingerprint", "incomplete"])
def test_a_stale_collection_is_rebuilt(store, encoder, tamper):
    ds = dataset()
    name = store.ensure_index(ds, encoder)
    store.search(ds, encoder, query_texts=["cat purrs"], k=1)  # open: the store holds the files it read
    change = {"encoder_fingerprint": "something-else"} if tamper == "fingerprint" else {"complete": False}
    if store.client is None:  # on disk: the files
        folder = get_settings().store_dir
        if tamper == "count":
            np.save(folder / f"{name}.npy", np.load(folder / f"{name}.npy")[:3])
        else:
            listing = json.loads((folder / f"{name}.json").read_text())
            listing["metadata"].update(change)
            (folder / f"{name}.json").write_text(json.dumps(listing))
    else:
        collection = store.client.get_collection(name, embedding_function=None)
        if tamper == "count":
            collection.delete(ids=["cat", "dog"])
        else:
            collection.modify(metadata={**collection.metadata, **change})
    seen = metadata(store, name)  # the change is seen, though the store had these files open
    assert (seen["count"], seen["encoder_fingerprint"], seen["complete"]) != (len(PASSAGES), encoder.fingerprint, True)
    store.ensure_index(ds, encoder)
    rebuilt = metadata(store, name)
    assert rebuilt["count"] == len(PASSAGES)
    assert rebuilt["encoder_fingerprint"] == encoder.fingerprint and rebuilt["complete"] is True
    assert store.search(ds, encoder, query_texts=["cat purrs"], k=1)[0][0].id == "cat"


def test_a_collection_deleted_behind_the_stores_back_is_rebuilt(store, encoder):
    ds = dataset()
    store.search(ds, encoder, query_texts=["cat purrs"], k=1)  # opened
    assert twin(store).drop(ds, encoder)
    assert store.search(ds, encoder, query_texts=["cat purrs"], k=1)[0][0].id == "cat"


def test_a_collection_that_keeps_disappearing_is_a_storage_error(store, encoder, monkeypatch):
    """A collection deleted between the rebuild and the query is rebuilt once; deleted again, the search says so."""
    from explorer.store.flat import Missing as NotFoundError

    ds = dataset()
    real_query, calls = VectorStore._query, []

    def query_deleted_once(self, name, queries, k):
        calls.append(name)
        if len(calls) == 1:
            raise NotFoundError(f"Collection {name} does not exist.")
        return real_query(self, name, queries, k)

    monkeypatch.setattr(VectorStore, "_query", query_deleted_once)
    assert store.search(ds, encoder, query_texts=["cat purr"], k=1)[0][0].id == "cat" and len(calls) == 2
    monkeypatch.setattr(VectorStore, "_query", lambda *_: (_ for _ in ()).throw(NotFoundError("gone")))
    with pytest.raises(StorageError, match="keeps disappearing"):
        store.search(ds, encoder, query_texts=["cat purr"], k=1)


def test_adds_and_queries_are_split_by_the_max_batch_size(store, encoder, adds, monkeypatch):
    if store.client is None:
        pytest.skip("on disk the vectors are one file")
    monkeypatch.setattr(store.client, "get_max_batch_size", lambda: 2)
    ds = dataset()
    calls = []
    store.ensure_index(ds, encoder, progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert adds == [2, 2, 1]
    assert calls[-1] == ("indexing", 10, 10) and [d for _, d, _ in calls] == sorted(d for _, d, _ in calls)
    assert [s for s, _, _ in calls] == sorted(s for s, _, _ in calls)  # "embedding" first, then "indexing"
    hits = store.search(ds, encoder, query_texts=list(PASSAGES.values()), k=1)
    assert [h[0].id for h in hits] == list(PASSAGES)


def test_precomputed_embeddings_are_used_as_given(store, encoder):
    ds = dataset()
    vectors = np.eye(len(PASSAGES), 64, dtype=np.float32)
    store.ensure_index(ds, encoder, passage_embeddings=vectors)
    hits = store.search(ds, encoder, query_vectors=np.eye(1, 64, 2, dtype=np.float32), k=1)
    assert hits[0][0].id == list(PASSAGES)[2]
    with pytest.raises(ValueError, match="shape"):
        store.ensure_index(dataset({"x": "y"}), encoder, passage_embeddings=vectors)


def test_chroma_never_uses_an_embedding_function(store, encoder, monkeypatch):
    if store.client is None:
        pytest.skip("no chroma on disk")
    from chromadb.utils import embedding_functions

    def refuse(*args, **kwargs):
        raise AssertionError("chroma tried to embed with its default model")

    monkeypatch.setattr(embedding_functions.DefaultEmbeddingFunction, "__call__", refuse)
    ds = dataset()
    name = store.ensure_index(ds, encoder)
    store.search(ds, encoder, query_texts=["rain"], k=2)
    config = store.client.get_collection(name, embedding_function=None).configuration
    assert config["embedding_function"] is None and config["hnsw"]["space"] == "cosine"


def test_drop_and_list(store, encoder):
    ds = dataset()
    name = store.ensure_index(ds, encoder)
    assert store.list_collections() == [name]
    assert store.drop(ds, encoder) is True
    assert store.drop(ds, encoder) is False
    assert store.list_collections() == []


def test_an_unusable_folder_or_server_is_a_storage_error(monkeypatch, encoder):
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.store_dir.write_text("a file where the store folder should be")
    with pytest.raises(StorageError, match="vector store .*index.* failed to .*folder is writable"):
        VectorStore(settings).ensure_index(dataset(), encoder)
    monkeypatch.setenv("EXPLORER_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("EXPLORER_CHROMA_PORT", "9")
    with pytest.raises(StorageError, match="Cannot reach the Chroma server at 127.0.0.1:9"):
        VectorStore().list_collections()



def test_public_mode_needs_the_workspace_and_keeps_its_vectors_there(monkeypatch, encoder):
    from explorer.core.config import WorkspaceRequiredError
    from explorer.workspace import new_workspace_id, open_workspace

    monkeypatch.setenv("EXPLORER_PUBLIC", "1")
    with pytest.raises(WorkspaceRequiredError, match="vector store"):
        VectorStore()
    ws = open_workspace(new_workspace_id())
    store = VectorStore(ws.settings)
    try:
        store.ensure_index(dataset(), encoder)
    finally:
        store.close()
    assert ws.settings.store_dir.is_dir() and ws.settings.store_dir.is_relative_to(ws.folder)
    assert not get_settings().store_dir.exists()

# ---------------------------------------------------------------------------------------- SQLite swap
def test_a_new_enough_sqlite_is_left_alone():
    assert _sqlite.ensure_modern_sqlite((3, 0, 0)) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pysqlite3-binary is Linux only")
def test_an_old_sqlite_is_swapped_for_pysqlite3(monkeypatch):
    pysqlite3 = pytest.importorskip("pysqlite3")
    monkeypatch.setitem(sys.modules, "sqlite3", sys.modules.get("sqlite3") or __import__("sqlite3"))
    monkeypatch.setitem(sys.modules, "sqlite3.dbapi2", sys.modules["sqlite3"].dbapi2)
    wanted = tuple(pysqlite3.dbapi2.sqlite_version_info)
    if _sqlite.sqlite_version() >= wanted:
        pytest.skip("the system SQLite is as new as pysqlite3's")
    assert _sqlite.ensure_modern_sqlite(wanted) is True
    assert sys.modules["sqlite3"] is pysqlite3 and _sqlite.sqlite_version() == wanted
    with pytest.raises(StorageError, match="upgrade pysqlite3-binary"):
        _sqlite.ensure_modern_sqlite((99, 0, 0))


def test_a_missing_pysqlite3_says_what_to_install(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setitem(sys.modules, "pysqlite3", None)  # makes "import pysqlite3" fail
    with pytest.raises(StorageError, match="pip install pysqlite3-binary"):
        _sqlite.ensure_modern_sqlite((99, 0, 0))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pysqlite3-binary is Linux only")
def test_importing_the_store_swaps_sqlite_before_chromadb_is_imported():
    pytest.importorskip("pysqlite3")
    code = (
        "import sys, sqlite3; import explorer.store.sqlite as s;"
        "want = sqlite3.sqlite_version_info[:2] + (sqlite3.sqlite_version_info[2] + 1,);"
        "s.ensure_modern_sqlite.__defaults__ = (want,);"
        "import explorer.store.vectors; assert 'chromadb' not in sys.modules, 'chromadb imported eagerly';"
        "print(sys.modules['sqlite3'].__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pysqlite3"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    """A real ``chroma run`` server on loopback, with its own folder; stopped after the test."""
    import shutil
    import time
    from pathlib import Path

    import httpx

    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = _free_port()
    log = open(tmp_path / "chroma.log", "wb")
    server = subprocess.Popen([chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port",
                               str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
        assert server.poll() is None, (tmp_path / "chroma.log").read_text(errors="replace")
    else:
        server.kill()
        pytest.fail("chroma run did not answer within 60 s")
    yield port
    server.terminate()
    server.wait(timeout=30)
    log.close()


def test_a_real_chroma_server_indexes_and_searches(chroma_server, encoder, tmp_path, adds):
    """Settings with a Chroma host talk to a real server: the index is built there, found current, and searched."""
    from dataclasses import replace

    settings = replace(get_settings(), home=tmp_path / "home", chroma_host="127.0.0.1", chroma_port=chroma_server)
    data = dataset()
    first = VectorStore(settings)
    first.ensure_index(data, encoder)
    assert collection_name(data, encoder) in first.list_collections()
    assert not (tmp_path / "home" / "index").exists()  # nothing written locally: the server holds it
    built = len(adds)
    assert built >= 1
    again = VectorStore(settings)  # a second client (another page, another process) sees the same index
    hits = again.search(data, encoder, ["why does my cat purr"], k=2)
    assert len(adds) == built  # found current on the server, not rebuilt
    assert hits[0][0].id == "cat" and len(hits[0]) == 2
    assert again.drop(data, encoder) and collection_name(data, encoder) not in again.list_collections()


def test_the_index_is_built_in_the_background_once_and_the_first_query_finds_it(store, encoder, adds):
    from explorer.pipeline import index_soon

    ds = dataset()
    encoder.encode(ds.passage_texts(), "passage")  # the evaluation embedded the corpus
    thread = index_soon(ds, encoder, store)
    assert thread is not None
    assert index_soon(ds, encoder, store) is None  # one build at a time
    thread.join(timeout=60)
    assert collection_name(ds, encoder) in store.list_collections()
    built = len(adds)
    assert index_soon(ds, encoder, store) is None  # and none once it is built
    hits = store.search(ds, encoder, query_texts=["why does my cat purr"], k=1)[0]
    assert hits[0].id == "cat" and len(adds) == built  # the first query adds nothing: the index is there


def test_a_background_build_reports_its_progress_until_it_ends(encoder):
    import threading as th

    from explorer.pipeline import index_soon, indexing

    release, reported = th.Event(), th.Event()

    class SlowStore:
        def ensure_index(self, dataset, encoder, progress=None):
            progress("indexing", 2 * 3, 2 * len(dataset.corpus))  # one count over embedding and adding
            reported.set()
            release.wait(30)

    ds, store = dataset(), SlowStore()
    assert indexing(ds, encoder, store) is None  # nothing builds yet
    thread = index_soon(ds, encoder, store)
    reported.wait(30)
    assert indexing(ds, encoder, store) == (3, len(ds.corpus))  # counted in passages
    release.set()
    thread.join(30)
    assert indexing(ds, encoder, store) is None


def test_on_disk_the_index_is_two_files_searched_exactly_without_chroma(encoder, monkeypatch):
    """On one machine the index is the vectors we wrote and their ids, nothing else (no memory of the server's can
    reach them), and a query ranks the whole corpus exactly, as the metrics do."""
    from explorer.core.topk import top_k

    monkeypatch.setitem(sys.modules, "chromadb", None)  # never imported on disk
    store, ds = VectorStore(), dataset()
    name = store.ensure_index(ds, encoder)
    folder = get_settings().store_dir
    assert sorted(p.name for p in folder.iterdir()) == [f"{name}.json", f"{name}.npy"]
    vectors = encoder.encode(ds.passage_texts(), "passage")
    np.testing.assert_array_equal(np.load(folder / f"{name}.npy"), vectors)
    assert json.loads((folder / f"{name}.json").read_text())["ids"] == ds.passage_ids()
    query = encoder.encode(["heavy rain floods the roads"], "query")
    rows, scores = top_k(query, vectors, len(PASSAGES))
    hits = store.search(ds, encoder, query_vectors=query, k=len(PASSAGES))[0]
    assert [h.id for h in hits] == [ds.passage_ids()[j] for j in rows[0]]
    np.testing.assert_allclose([h.score for h in hits], scores[0], atol=1e-6)


def test_a_build_killed_before_its_listing_is_written_is_rebuilt(store, encoder, monkeypatch):
    from explorer.core import storage

    if store.client is not None:
        pytest.skip("on disk only")
    ds = dataset()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(storage, "write_bytes_atomic", crash)
    with pytest.raises(KeyboardInterrupt):
        store.ensure_index(ds, encoder)
    monkeypatch.undo()
    assert store.list_collections() == [] and not list(get_settings().store_dir.glob(".*tmp"))
    name = store.ensure_index(ds, encoder)
    assert metadata(store, name)["complete"] is True and metadata(store, name)["count"] == len(PASSAGES)


def test_an_exact_search_while_the_index_is_built_ranks_as_the_index_does(store, encoder):
    from explorer.pipeline import search

    ds = dataset()
    for query in ("why does my cat purr", "flooded roads after rain", "bread in the oven"):
        exact = search(ds, encoder, query, k=3, exact=True)
        indexed = search(ds, encoder, query, k=3, store=store)
        assert list(exact["pid"]) == list(indexed["pid"]) and list(exact["rank"]) == [1, 2, 3]
        np.testing.assert_allclose(exact["score"], indexed["score"], atol=1e-5)
        assert list(exact.columns) == ["rank", "pid", "score", "title", "text"]


def test_a_query_reads_the_vectors_in_blocks_and_keeps_none_of_the_file_mapped(encoder, monkeypatch):
    """Search ranks as one exact top-k over the whole file while reading it a block at a time, so the file's pages
    never become the process' memory (a memory map's would, once read: 147 MB at 100,000 passages)."""
    from explorer.core import topk
    from explorer.store import flat

    store, ds = VectorStore(), dataset()
    if store.client is not None:
        pytest.skip("on disk only")
    query = encoder.encode(["heavy rain floods the roads", "bread"], "query")
    vectors = encoder.encode(ds.passage_texts(), "passage")
    name = store.ensure_index(ds, encoder)
    monkeypatch.setattr(flat, "READ_BLOCK_BYTES", 2 * 4 * vectors.shape[1])  # two rows a block
    reads, blocks = [], flat._Layout.blocks

    def counted(self, rows):
        for first, block in blocks(self, rows):
            reads.append(len(block))
            yield first, block

    monkeypatch.setattr(flat._Layout, "blocks", counted)
    found = store.search(ds, encoder, query_vectors=query, k=len(PASSAGES))
    rows, scores = topk.top_k(query, vectors, len(PASSAGES))
    for hits, row, score in zip(found, rows, scores):
        assert [h.id for h in hits] == [ds.passage_ids()[j] for j in row]
        np.testing.assert_allclose([h.score for h in hits], score, atol=1e-6)
    assert max(reads) == 2 and sum(reads) == len(PASSAGES)
    assert f"{name}.npy" not in Path("/proc/self/maps").read_text()


def test_a_file_shorter_than_its_header_is_a_missing_collection(store, encoder):
    """A vectors file cut short (a disk full, a copy interrupted) is rebuilt, never read past its end."""
    if store.client is not None:
        pytest.skip("on disk only")
    ds = dataset()
    name = store.ensure_index(ds, encoder)
    path = get_settings().store_dir / f"{name}.npy"
    path.write_bytes(path.read_bytes()[:-8])
    hits = store.search(ds, encoder, ["heavy rain floods the roads"], k=2)[0]
    assert [h.id for h in hits][0] == "rain" and path.stat().st_size == 128 + 4 * len(PASSAGES) * encoder.dim


def test_one_string_given_as_the_queries_is_refused_not_searched_character_by_character(store, encoder):
    with pytest.raises(TypeError, match=r"\[text\]"):
        store.search(dataset(), encoder, "heavy rain", k=2)


def test_a_file_replaced_between_its_listing_and_its_read_is_never_mixed_with_the_other_listing(encoder):
    """A rebuild that lands between a query's look at the listing and its read of the vectors must not pair the
    new file's rows with the old listing's ids: the read goes to the version whose header was read with them."""
    from explorer.store.flat import FlatIndex

    folder = get_settings().store_dir
    index = FlatIndex(folder)
    index.write("c", ["a", "b"], np.eye(2, dtype=np.float32), {})
    ids, layout, _ = index._opened("c")
    FlatIndex(folder).write("c", ["b", "a"], np.eye(2, dtype=np.float32)[::-1].copy(), {})
    assert ids == ["a", "b"] and np.array_equal(next(layout.blocks(2))[1], np.eye(2, dtype=np.float32))
    assert index.query("c", np.array([[1.0, 0.0]], dtype=np.float32), 1)[0] == [["a"]]
