"""Safe extraction of an uploaded zip archive (a BEIR folder packed as .zip).

The standard library's :meth:`zipfile.ZipFile.extractall` sanitises member names, but it neither caps the
unpacked size nor refuses symbolic links, and a crafted name is better refused loudly than silently renamed.
So this module checks every member before writing anything:

* **zip-slip**: absolute names, drive letters and ``..`` components that would land outside the target
  folder are refused, as are symbolic links;
* **zip bombs**: the declared total size is capped (``unpack_factor`` x the upload limit), the overall
  compression ratio is capped (``max_ratio``), the member count is capped, and the bytes actually written
  are counted while streaming, because a header can lie about its sizes.
"""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

from explorer.data.validation import Source, human_size, limit_bytes, read_source
from explorer.core.errors import DataError

#: Junk that macOS and Windows add to archives; never extracted.
_JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db")
#: Archives smaller than this may have any compression ratio (a small file of repeated text compresses well).
_RATIO_FREE_BYTES = 4 * 1024 * 1024


def _unsafe_name(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in path.parts


def safe_extract(
    source: Source,
    dest: str | Path,
    *,
    label: str = "the zip file",
    max_bytes: int | None = None,
    unpack_factor: float = 4.0,
    max_ratio: float = 100.0,
    max_files: int = 10_000,
    max_unpacked: int | None = None,
) -> Path:
    """Extract a zip archive into ``dest`` after checking it is safe; returns ``dest``.

    Args:
        source: path of the .zip, or its bytes / a binary file object (an upload).
        dest: folder to extract into (created if needed).
        label: the archive's name in error messages.
        max_bytes: upload limit (default: the configured ``max_upload_mb``); the archive itself must fit it
            and its unpacked content must fit ``unpack_factor`` times it.
        unpack_factor: how many times the upload limit the unpacked files may take.
        max_ratio: the largest unpacked/packed size ratio accepted for archives over 4 MB unpacked.
        max_files: the largest number of members accepted.
        max_unpacked: the most bytes the members may unpack to, all together (default ``unpack_factor`` x
            the upload limit); checked on the declared sizes first, then on the bytes actually written.

    Raises:
        DataError: the file is not a zip, or it fails one of the checks above.
    """
    limit = limit_bytes(max_bytes)
    data = read_source(source, label, limit)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DataError(f"{label} is not a valid zip archive; re-create it (for example with 'zip -r').") from None
    with archive:
        infos = [i for i in archive.infolist() if not any(j in i.filename for j in _JUNK)]
        if len(infos) > max_files:
            raise DataError(f"{label} holds {len(infos):,} files, more than the {max_files:,} accepted; pack only the dataset.")
        unpack_limit = int(max_unpacked) if max_unpacked is not None else int(limit * unpack_factor)
        declared = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos)
        if declared > unpack_limit:
            raise DataError(
                f"{label} unpacks to {human_size(declared)}, over the {human_size(unpack_limit)} accepted; use a smaller sample."
            )
        if declared > _RATIO_FREE_BYTES and declared / max(packed, 1) > max_ratio:
            raise DataError(
                f"{label} unpacks to {declared / max(packed, 1):.0f} times its packed size, which looks like a zip "
                f"bomb (at most {max_ratio:.0f}x is accepted); refusing to extract it."
            )
        root = Path(dest).resolve()
        root.mkdir(parents=True, exist_ok=True)
        for info in infos:
            if _unsafe_name(info.filename):
                raise DataError(f"{label} contains {info.filename!r}, a path outside the archive's folder; refusing to extract it.")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise DataError(f"{label} contains {info.filename!r}, a symbolic link; pack the files themselves.")
            target = (root / info.filename).resolve()
            if not target.is_relative_to(root):
                raise DataError(f"{label} contains {info.filename!r}, a path outside the archive's folder; refusing to extract it.")
        written = 0
        for info in infos:
            target = (root / info.filename).resolve()
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > unpack_limit:
                            raise DataError(
                                f"{label} unpacks to more than {human_size(unpack_limit)} (its headers understate the "
                                "size); refusing to extract it."
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
                raise DataError(f"{label}: cannot extract {info.filename!r} ({exc}); re-create the zip without a password.") from None
    return root

