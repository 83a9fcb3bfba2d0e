"""Pascal VOC2012 download: resumable (HTTP Range), bounded (stall rule, deadline), SHA-1 verified,
extracted safely (no member outside the target) into a temporary folder and swapped in."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ..profiles import voc_mirrors_setting, voc_sha1_setting
from ..weights import CHUNK, download_file
from .voc import _is_voc_dir, default_root, find_voc_dir

VOC_TAR_NAME = "VOCtrainval_11-May-2012.tar"
VOC_SHA1 = "4e443f8a2eca6b1dac8a6c57641b67dd40621a49"
"""SHA-1 of ``VOCtrainval_11-May-2012.tar`` (d2l's value)."""
VOC_MIRRORS: tuple[str, ...] = (
    "http://d2l-data.s3-accelerate.amazonaws.com/" + VOC_TAR_NAME,  # d2l's, the seed's
    "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/" + VOC_TAR_NAME,  # torchvision's
    "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/" + VOC_TAR_NAME,  # the original
    "https://pjreddie.com/media/files/" + VOC_TAR_NAME,  # darknet/YOLO's
)
"""Tried in order; override with ``mirrors=`` or ``$FCNLIB_VOC_MIRRORS`` (space- or comma-separated)."""


class VOCDownloadError(RuntimeError):
    """No mirror delivered the archive; the message lists what was tried and how to place the file by hand."""


def voc_mirrors(mirrors: str | Sequence[str] | None = None) -> list[str]:
    """The addresses to try: ``mirrors``, else ``$FCNLIB_VOC_MIRRORS``, else :data:`VOC_MIRRORS`."""
    if mirrors is None:
        mirrors = voc_mirrors_setting() or list(VOC_MIRRORS)
    if isinstance(mirrors, str):
        mirrors = mirrors.replace(",", " ").split()
    urls = [str(u).strip() for u in mirrors if str(u).strip()]
    if not urls:
        raise ValueError("mirrors is empty: give at least one URL (or None for the default mirrors)")
    for url in urls:
        if not url.lower().startswith(("http://", "https://", "file://")):
            raise ValueError(f"mirror {url!r} is not an http://, https:// or file:// URL")
    return urls


def sha1_of(path: str | Path, progress: bool = False) -> str:
    """SHA-1 of a file, read in 1 MB chunks."""
    from tqdm.auto import tqdm

    path, digest = Path(path), hashlib.sha1()
    with open(path, "rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True, unit_divisor=1024,
                                     desc=f"checking {path.name}", disable=not progress, leave=False) as bar:  # fmt: skip
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _unsafe_reason(member: tarfile.TarInfo, dest: Path) -> str | None:
    """Why ``member`` must not be extracted into ``dest`` (None when it is safe)."""
    name = member.name
    if PurePosixPath(name).is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if not (dest / name).resolve().is_relative_to(dest):
        return "a path outside the target folder"
    if member.issym() or member.islnk():
        if PurePosixPath(member.linkname).is_absolute():
            return "a link to an absolute path"
        base = (dest / name).parent if member.issym() else dest
        if not (base / member.linkname).resolve().is_relative_to(dest):
            return "a link that points outside the target folder"
    elif not (member.isfile() or member.isdir()):
        return "a device or other special file"
    return None


def safe_extract(tar_path: str | Path, dest: str | Path, progress: bool = True) -> None:
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


def _fetch_archive(tar_path: Path, urls: list[str], sha1: str | None, progress: bool, **limits) -> None:
    """Download the archive to ``tar_path`` from the first mirror that delivers the right bytes."""
    part, errors = tar_path.with_name(tar_path.name + ".part"), []
    for url in urls:
        resumed = part.exists()
        for _fresh_try in range(2):
            try:
                download_file(url, part, progress=progress, **limits)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
                errors.append(f"{url}: {type(err).__name__}: {getattr(err, 'reason', None) or err}")
                break
            found = sha1_of(part, progress) if sha1 is not None else None
            if found == sha1:
                os.replace(part, tar_path)
                return
            part.unlink()
            discarded = "; the earlier partial download was discarded" if resumed else ""
            errors.append(f"{url}: checksum mismatch (sha1 {found}, expected {sha1}){discarded}")
            if not resumed:
                break
            resumed = False  # try this mirror once more, from the first byte
    check = f" (sha1 {sha1})" if sha1 else ""
    raise VOCDownloadError(
        f"could not download {tar_path.name} (about 2 GB). Tried:\n  " + "\n  ".join(errors) + "\n"
        f"To install it by hand: download {VOC_TAR_NAME}{check} on a machine with internet, from one of the "
        f"addresses above or any other mirror, and place it at {tar_path}; then call "
        f"fcnlib.data.download_voc(root={str(tar_path.parent)!r}) again, which checks and extracts it. "
        "Other mirrors: pass mirrors=[...] or set FCNLIB_VOC_MIRRORS. To work offline, "
        "fcnlib.data.load_data_voc() uses the generated teaching dataset instead."
    )


def _extract_and_swap(tar_path: Path, voc_dir: Path, progress: bool) -> None:
    """Extract into a temporary folder, then swap it in for ``voc_dir`` (a half-extracted one is replaced)."""
    tmp = voc_dir.parent.parent / f".voc-extract-{uuid.uuid4().hex[:8]}"
    old = voc_dir.with_name(f".VOC2012-old-{uuid.uuid4().hex[:8]}")
    try:
        safe_extract(tar_path, tmp, progress=progress)
        extracted = find_voc_dir(tmp)
        if extracted != tmp / "VOCdevkit" / "VOC2012":
            raise ValueError(
                f"{tar_path} does not contain VOCdevkit/VOC2012 with JPEGImages/ and "
                "ImageSets/Segmentation/; it is not the VOC2012 archive"
            )
        voc_dir.parent.mkdir(parents=True, exist_ok=True)
        if voc_dir.exists():
            os.replace(voc_dir, old)  # an incomplete earlier extraction
        os.replace(extracted, voc_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def download_voc(
    root: str | Path | None = None,
    mirrors: str | Sequence[str] | None = None,
    sha1: str | None = VOC_SHA1,
    timeout: float = 30.0,
    keep_tar: bool = True,
    progress: bool = True,
    tar_name: str = VOC_TAR_NAME,
    min_rate: float = 10_000.0,
    window: float = 60.0,
    deadline: float = 4 * 3600.0,
) -> Path:
    """Download and extract Pascal VOC2012 (2 GB) under ``root``; return ``root/VOCdevkit/VOC2012``.

    ``root`` defaults to :func:`default_root`; ``mirrors`` to ``$FCNLIB_VOC_MIRRORS`` or :data:`VOC_MIRRORS`;
    ``sha1=None`` skips the check; ``$FCNLIB_VOC_SHA1`` replaces the default (a mirror with its own archive). ``timeout``: seconds to wait for a server; a mirror
    slower than ``min_rate`` bytes/s over ``window`` s, or a transfer past ``deadline`` s, is abandoned
    (the partial file is kept for a resume). Does nothing when the dataset is extracted; an archive
    placed at ``root/<tar_name>`` is checked and used offline. Raises :class:`VOCDownloadError` listing
    every mirror's error; ``ValueError`` for a wrong archive.
    """
    root = default_root() if root is None else Path(root).expanduser()
    sha1 = (voc_sha1_setting() or sha1) if sha1 == VOC_SHA1 else sha1
    voc_dir = root / "VOCdevkit" / "VOC2012"
    if _is_voc_dir(voc_dir) and (voc_dir / "SegmentationClass").is_dir():
        return voc_dir
    root.mkdir(parents=True, exist_ok=True)
    tar_path = root / tar_name
    if not tar_path.exists():
        limits = dict(timeout=timeout, min_rate=min_rate, window=window, deadline=deadline)
        _fetch_archive(tar_path, voc_mirrors(mirrors), sha1, progress, **limits)
    elif sha1 is not None and (found := sha1_of(tar_path, progress)) != sha1:
        raise ValueError(
            f"{tar_path} has sha1 {found}, expected {sha1}: it is incomplete or a different "
            "file. Delete it and run download_voc again (or place the right file there)."
        )
    _extract_and_swap(tar_path, voc_dir, progress)
    if not keep_tar:
        tar_path.unlink()
    return voc_dir
