"""Shared checks: size limits, UTF-8 decoding, JSON lines, grades, and safe zip extraction."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from explorer.data.archive import safe_extract
from explorer.data.validation import check_size, decode_utf8, iter_jsonl, limit_bytes, parse_grade, read_source
from explorer.core.errors import DataError


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_limit_comes_from_settings(monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_UPLOAD_MB", "2")
    assert limit_bytes() == 2 * 1024 * 1024
    assert limit_bytes(10) == 10
    with pytest.raises(ValueError):
        limit_bytes(0)
    with pytest.raises(DataError, match=r"big.csv is 3.0 MB, over the 2.0 MB limit of this server; upload a smaller file"):
        check_size(3 * 1024 * 1024, "big.csv")


def test_read_source_accepts_paths_bytes_and_streams(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"abc")
    assert read_source(path, "a") == read_source(b"abc", "a") == read_source(io.BytesIO(b"abc"), "a") == b"abc"
    with pytest.raises(DataError, match="over the 2 bytes limit"):
        read_source(io.BufferedReader(io.BytesIO(b"abc")), "s", 2)


def test_decode_strips_bom_and_locates_bad_bytes():
    assert decode_utf8("\ufeffhé".encode(), "f") == "hé"
    with pytest.raises(DataError, match=r"f: line 2 \(byte offset 5\) is not valid UTF-8"):
        decode_utf8(b"ab\ncd\xff", "f")
    with pytest.raises(DataError, match=r"f: line 1 \(byte offset 5\)"):
        decode_utf8(b"\xef\xbb\xbfab\xff", "f")


def test_iter_jsonl_skips_blank_lines_and_numbers_lines():
    assert [n for n, _ in iter_jsonl('{"a": 1}\n\n  \n{"b": 2}\n', "f")] == [1, 4]


@pytest.mark.parametrize("value, grade", [(0, 0), ("2", 2), (1.0, 1), (" 3 ", 3), (True, 1)])
def test_parse_grade(value, grade):
    assert parse_grade(value, "f", "line 1") == grade


def test_safe_extract_extracts_plain_archives(tmp_path):
    root = safe_extract(_zip({"d/corpus.jsonl": b"{}", "__MACOSX/._x": b"junk"}), tmp_path / "out")
    assert (root / "d" / "corpus.jsonl").read_bytes() == b"{}"
    assert not (root / "__MACOSX").exists()


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil", "..\\evil"])
def test_safe_extract_refuses_zip_slip(tmp_path, name):
    with pytest.raises(DataError, match=r"a path outside the archive's folder"):
        safe_extract(_zip({name: b"x"}), tmp_path / "out", label="up.zip")
    assert not (tmp_path / "evil.txt").exists()


def test_safe_extract_refuses_symlinks(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match="a symbolic link"):
        safe_extract(buffer.getvalue(), tmp_path / "out")


def test_safe_extract_refuses_zip_bombs(tmp_path):
    bomb = _zip({"zeros.bin": b"\0" * (6 * 1024 * 1024)})  # ~1000x compression
    with pytest.raises(DataError, match=r"looks like a zip bomb"):
        safe_extract(bomb, tmp_path / "a")
    with pytest.raises(DataError, match=r"unpacks to 6.0 MB, over the 4.0 MB accepted"):
        safe_extract(bomb, tmp_path / "b", max_bytes=1024 * 1024, max_ratio=10_000)
    with pytest.raises(DataError, match=r"holds 3 files, more than the 2 accepted"):
        safe_extract(_zip({"a": b"", "b": b"", "c": b""}), tmp_path / "c", max_files=2)


def test_safe_extract_rejects_non_zip(tmp_path):
    with pytest.raises(DataError, match="not a valid zip archive"):
        safe_extract(b"PK nope", tmp_path / "out", label="x.zip")
