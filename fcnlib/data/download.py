"""Download Pascal VOC2012 once, safely: resumable, verified, and extracted without surprises.

The archive is 2 GB, so the details matter more than for a small file:

* **Streaming.** The bytes go to disk in 1 MB chunks (with a progress bar); the whole
  file is never held in memory (d2l's downloader reads it all into RAM).
* **Resuming.** The download goes to ``<name>.part``. If the connection drops, we ask the
  server for the rest with an HTTP ``Range: bytes=<size>-`` header instead of starting
  over; a rerun after an interruption continues where it stopped.
* **Verifying.** Only a file whose SHA-1 matches the known checksum is used: a mirror that
  serves an error page or a different file is caught before anything is extracted.
* **Extracting safely.** A tar archive may name members like ``../../.bashrc``. We refuse
  any member that would land outside the target folder (Python's ``filter="data"`` where
  available, and our own check on every Python).
* **Once.** When ``VOCdevkit/VOC2012`` is already there, nothing is downloaded or
  extracted again (d2l extracts again on every call).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import tarfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path, PurePosixPath
from typing import List, Optional, Sequence, Tuple, Union

from .voc import _is_voc_dir, default_root, find_voc_dir

__all__ = ['VOC_TAR_NAME', 'VOC_SHA1', 'VOC_MIRRORS', 'CHUNK', 'VOCDownloadError', 'voc_mirrors', 'sha1_of', 'download_file', 'safe_extract', 'download_voc']


VOC_TAR_NAME = "VOCtrainval_11-May-2012.tar"
VOC_SHA1 = "4e443f8a2eca6b1dac8a6c57641b67dd40621a49"
"""SHA-1 of ``VOCtrainval_11-May-2012.tar`` (the value d2l checks)."""

VOC_MIRRORS: Tuple[str, ...] = (
    # d2l's mirror, the one the seed's d2l.load_data_voc uses.
    "http://d2l-data.s3-accelerate.amazonaws.com/" + VOC_TAR_NAME,
    # The Oxford hosts (torchvision's address, then the original one); unreachable at times.
    "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/" + VOC_TAR_NAME,
    "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/" + VOC_TAR_NAME,
    # The copy the darknet/YOLO instructions use.
    "https://pjreddie.com/media/files/" + VOC_TAR_NAME,
)
"""Addresses tried in order; override with ``mirrors=`` or ``$FCNLIB_VOC_MIRRORS`` (space- or comma-separated)."""

CHUNK = 1 << 20


class VOCDownloadError(RuntimeError):
    """No mirror delivered the archive; the message lists what was tried and how to place the file by hand."""


def voc_mirrors(mirrors: Optional[Union[str, Sequence[str]]] = None) -> List[str]:
    """The addresses to try: ``mirrors``, else ``$FCNLIB_VOC_MIRRORS``, else :data:`VOC_MIRRORS`."""
    if mirrors is None:
        mirrors = os.environ.get("FCNLIB_VOC_MIRRORS", "").strip() or list(VOC_MIRRORS)
    if isinstance(mirrors, str):
        mirrors = mirrors.replace(",", " ").split()
    urls = [str(u).strip() for u in mirrors if str(u).strip()]
    if not urls:
        raise ValueError("mirrors is empty: give at least one URL (or None for the default mirrors)")
    for url in urls:
        if not url.lower().startswith(("http://", "https://", "file://")):
            raise ValueError(f"mirror {url!r} is not an http://, https:// or file:// URL")
    return urls


def sha1_of(path: Union[str, Path], progress: bool = False) -> str:
    """SHA-1 of a file, read in 1 MB chunks (a 2 GB file takes a few seconds)."""
    path = Path(path)
    digest = hashlib.sha1()
    from tqdm.auto import tqdm

    with open(path, "rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True, unit_divisor=1024,
                                     desc=f"checking {path.name}", disable=not progress, leave=False) as bar:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def download_file(url: str, part: Path, timeout: float = 30.0, retries: int = 5, progress: bool = True) -> None:
    """Append the rest of ``url`` to ``part`` (resuming with an HTTP Range request), retrying after drops.

    A connection that breaks after some bytes arrived is resumed up to ``retries`` times;
    one that fails before any byte arrives raises at once (the caller tries the next mirror).
    A server that ignores ``Range`` (answers 200) makes us start the file again from zero.
    """
    from tqdm.auto import tqdm

    failures = 0
    while True:
        offset = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": "fcnlib (fcn-notebooks)"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        received = 0
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
                status = getattr(response, "status", 200)
                length = response.headers.get("Content-Length")
                if offset and status == 206:
                    mode = "ab"
                else:  # a full answer: start over (also when the server ignored our Range)
                    mode, offset = "wb", 0
                total = offset + int(length) if length is not None else None
                with open(part, mode) as f, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                                 unit_divisor=1024, desc=part.name.removesuffix(".part"),
                                                 disable=not progress) as bar:
                    for chunk in iter(lambda: response.read(CHUNK), b""):
                        f.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
            if total is not None and part.stat().st_size < total:
                raise http.client.IncompleteRead(b"", total - part.stat().st_size)
            return
        except urllib.error.HTTPError as err:
            if err.code == 416 and offset:
                return  # nothing left to fetch: the part is complete (the checksum will tell)
            raise
        except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError, OSError) as err:
            if isinstance(err, urllib.error.URLError) or received == 0:
                raise  # never connected, or no progress: give up on this mirror
            failures += 1
            if failures > retries:
                raise
            # otherwise loop: ask for the remaining bytes


def _unsafe_reason(member: tarfile.TarInfo, dest: Path) -> Optional[str]:
    """Why ``member`` must not be extracted into ``dest`` (None when it is safe)."""
    name = member.name
    if PurePosixPath(name).is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    target = (dest / name).resolve()
    if not target.is_relative_to(dest):
        return "a path outside the target folder"
    if member.issym() or member.islnk():
        link = member.linkname
        if PurePosixPath(link).is_absolute():
            return "a link to an absolute path"
        base = (dest / name).parent if member.issym() else dest
        if not (base / link).resolve().is_relative_to(dest):
            return "a link that points outside the target folder"
    elif not (member.isfile() or member.isdir()):
        return "a device or other special file"
    return None


def safe_extract(tar_path: Union[str, Path], dest: Union[str, Path], progress: bool = True) -> None:
    """Extract ``tar_path`` into ``dest``, refusing (``ValueError``) any member that would land outside it."""
    from tqdm.auto import tqdm

    tar_path, dest = Path(tar_path), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    try:
        with tarfile.open(tar_path) as tar:
            members = tar.getmembers()
            for member in members:
                reason = _unsafe_reason(member, dest)
                if reason is not None:
                    raise ValueError(
                        f"{tar_path} contains the member {member.name!r}, {reason}; refusing to extract it. "
                        "The archive is damaged or not the VOC2012 archive: delete it and download it again."
                    )
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            for member in tqdm(members, desc=f"extracting {tar_path.name}", unit="file", disable=not progress):
                tar.extract(member, dest, **extra)
    except tarfile.TarError as err:
        raise ValueError(f"{tar_path} is not a readable tar archive ({err}); delete it and download it again") from err


def _manual_help(tar_path: Path, sha1: Optional[str]) -> str:
    check = f" (sha1 {sha1})" if sha1 else ""
    return (
        f"To install it by hand: download {VOC_TAR_NAME}{check} on a machine with internet, from one of the "
        f"addresses above or any other mirror, and place it at {tar_path}; then call "
        f"fcnlib.data.download_voc(root={str(tar_path.parent)!r}) again, which checks and extracts it. "
        "Other mirrors: pass mirrors=[...] or set FCNLIB_VOC_MIRRORS. To work offline, "
        "fcnlib.data.load_data_voc() uses the generated teaching dataset instead."
    )


def download_voc(
    root: Optional[Union[str, Path]] = None,
    mirrors: Optional[Union[str, Sequence[str]]] = None,
    sha1: Optional[str] = VOC_SHA1,
    timeout: float = 30.0,
    keep_tar: bool = True,
    progress: bool = True,
    tar_name: str = VOC_TAR_NAME,
) -> Path:
    """Download and extract Pascal VOC2012 under ``root``; return ``root/VOCdevkit/VOC2012``.

    Args:
        root: the data folder (default :func:`fcnlib.data.default_root`, the repository's ``data/``).
        mirrors: URLs to try in order (default ``$FCNLIB_VOC_MIRRORS`` or :data:`VOC_MIRRORS`).
        sha1: the archive's expected SHA-1 (``None`` skips the check; only for your own archives).
        timeout: seconds to wait for a server before trying the next mirror.
        keep_tar: keep the 2 GB archive after extracting (lets you extract again offline).
        progress: show progress bars.

    Does nothing when the dataset is already extracted. An archive already at
    ``root/VOCtrainval_11-May-2012.tar`` (placed by hand) is checked and used without a
    network. Raises :class:`VOCDownloadError` listing every mirror's error when none works.
    """
    root = default_root() if root is None else Path(root).expanduser()
    voc_dir = root / "VOCdevkit" / "VOC2012"
    if _is_voc_dir(voc_dir) and (voc_dir / "SegmentationClass").is_dir():
        return voc_dir
    root.mkdir(parents=True, exist_ok=True)
    tar_path = root / tar_name
    part = root / (tar_name + ".part")
    if tar_path.exists():
        if sha1 is not None:
            found = sha1_of(tar_path, progress)
            if found != sha1:
                raise ValueError(f"{tar_path} has sha1 {found}, expected {sha1}: it is incomplete or a different "
                                 "file. Delete it and run download_voc again (or place the right file there).")
    else:
        errors: List[str] = []
        for url in voc_mirrors(mirrors):
            resumed = part.exists()
            for _fresh_try in range(2):
                try:
                    download_file(url, part, timeout=timeout, progress=progress)
                except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
                    errors.append(f"{url}: {type(err).__name__}: {getattr(err, 'reason', None) or err}")
                    break
                found = sha1_of(part, progress) if sha1 is not None else None
                if found == sha1:
                    os.replace(part, tar_path)
                    break
                part.unlink()
                errors.append(f"{url}: checksum mismatch (sha1 {found}, expected {sha1})"
                              + ("; the earlier partial download was discarded" if resumed else ""))
                if not resumed:
                    break
                resumed = False  # try this mirror once more, from the first byte
            if tar_path.exists():
                break
        else:
            tried = "\n  ".join(errors)
            raise VOCDownloadError(f"could not download {tar_name} (about 2 GB). Tried:\n  {tried}\n"
                                   + _manual_help(tar_path, sha1))
    # Extract next to the final place, then move VOC2012 in with one rename: an
    # interrupted extraction never leaves a half-filled VOCdevkit/VOC2012 behind.
    tmp = root / f".voc-extract-{uuid.uuid4().hex[:8]}"
    try:
        safe_extract(tar_path, tmp, progress=progress)
        extracted = find_voc_dir(tmp)
        if extracted is None or extracted != tmp / "VOCdevkit" / "VOC2012":
            raise ValueError(f"{tar_path} does not contain VOCdevkit/VOC2012 with JPEGImages/ and "
                             "ImageSets/Segmentation/; it is not the VOC2012 archive")
        voc_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(extracted, voc_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not keep_tar:
        tar_path.unlink()
    return voc_dir
