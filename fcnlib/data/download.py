"""Pascal VOC2012 download: resumable (HTTP Range), bounded (stall rule, deadline), SHA-1 verified,
extracted safely (no member outside the target) into a temporary folder and swapped in."""

from __future__ import annotations

import http.client
import os
import shutil
import tarfile
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ..profiles import voc_mirrors_setting, voc_sha1_setting
from ..weights import download_file, file_digest
from .voc import default_root, find_voc_dir

VOC_TAR_NAME = "VOCtrainval_11-May-2012.tar"
VOC_SHA1 = "4e443f8a2eca6b1dac8a6c57641b67dd40621a49"  # of the archive (d2l's value)
VOC_MIRRORS: tuple[str, ...] = (  # tried in order; ``mirrors=`` or ``$FCNLIB_VOC_MIRRORS`` override them
    "http://d2l-data.s3-accelerate.amazonaws.com/" + VOC_TAR_NAME,  # d2l's
    "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/" + VOC_TAR_NAME,  # torchvision's
    "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/" + VOC_TAR_NAME,  # the original
    "https://pjreddie.com/media/files/" + VOC_TAR_NAME,  # darknet/YOLO's
)


class VOCDownloadError(RuntimeError):
    """No mirror delivered the archive; the message lists what was tried and how to place the file by hand."""


def voc_mirrors(mirrors: str | Sequence[str] | None = None) -> list[str]:
    """The addresses to try: ``mirrors``, else ``$FCNLIB_VOC_MIRRORS``, else :data:`VOC_MIRRORS`."""
    mirrors = (voc_mirrors_setting() or list(VOC_MIRRORS)) if mirrors is None else mirrors
    if isinstance(mirrors, str):
        mirrors = mirrors.replace(",", " ").split()
    urls = [str(u).strip() for u in mirrors if str(u).strip()]
    if not urls:
        raise ValueError("mirrors is empty: give at least one URL (or None for the default mirrors)")
    for url in urls:
        if not url.lower().startswith(("http://", "https://", "file://")):
            raise ValueError(f"mirror {url!r} is not an http://, https:// or file:// URL")
    return urls


def safe_extract(tar_path: str | Path, dest: str | Path, progress: bool = True) -> None:
    """Extract ``tar_path`` into ``dest``, refusing (``ValueError``) any member that would land outside it: each
    member is checked before anything is written and again, just before it is written, through the links
    extracted so far (a chain of links escapes a check of the names alone)."""
    from tqdm.auto import tqdm

    tar_path, dest = Path(tar_path), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()

    def unsafe(member: tarfile.TarInfo) -> str | None:
        name, link = member.name, member.issym() or member.islnk()
        base = (dest / name).parent if member.issym() else dest
        if PurePosixPath(name).is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            return "an absolute path"
        if not (dest / name).resolve().is_relative_to(dest):
            return "a path outside the target folder"
        if link and PurePosixPath(member.linkname).is_absolute():
            return "a link to an absolute path"
        if link and not (base / member.linkname).resolve().is_relative_to(dest):
            return "a link that points outside the target folder"
        return None if link or member.isfile() or member.isdir() else "a device or other special file"

    def check(member: tarfile.TarInfo) -> tarfile.TarInfo:
        if (reason := unsafe(member)) is not None:
            raise ValueError(
                f"{tar_path} contains the member {member.name!r}, {reason}; refusing to extract it. The archive is damaged or not the VOC2012 archive: delete it and download it again."
            )
        return member

    try:
        with tarfile.open(tar_path) as tar:
            members = [check(member) for member in tar.getmembers()]  # before anything is written
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            for member in tqdm(members, desc=f"extracting {tar_path.name}", unit="file", disable=not progress):
                tar.extract(check(member), dest, **extra)  # again: through the links extracted so far
    except tarfile.TarError as err:
        raise ValueError(f"{tar_path} is not a readable tar archive ({err}); delete it and download it again") from err


def _fetch_archive(tar_path: Path, urls: list[str], sha1: str | None, progress: bool, **limits) -> None:
    """Download the archive to ``tar_path`` from the first mirror that delivers the right bytes."""
    part, errors = tar_path.with_name(tar_path.name + ".part"), []
    for url in urls:
        for resumed in (True, False) if part.exists() else (False,):  # a bad resumed file: once more from byte 0
            try:
                download_file(url, part, progress=progress, **limits)
            except (http.client.HTTPException, OSError, ValueError) as err:
                errors.append(f"{url}: {type(err).__name__}: {getattr(err, 'reason', None) or err}")
                break
            if (found := file_digest(part, "sha1", progress) if sha1 is not None else None) == sha1:
                os.replace(part, tar_path)
                return
            part.unlink()
            discarded = "; the earlier partial download was discarded" if resumed else ""
            errors.append(f"{url}: checksum mismatch (sha1 {found}, expected {sha1}){discarded}")
    tried, check = "\n  ".join(errors), f" (sha1 {sha1})" if sha1 else ""
    raise VOCDownloadError(
        f"could not download {tar_path.name} (about 2 GB). Tried:\n  {tried}\nTo install it by hand: download "
        f"{VOC_TAR_NAME}{check} from one of these or any other mirror, place it at {tar_path} and call "
        f"fcnlib.data.download_voc(root={str(tar_path.parent)!r}) again; other mirrors: pass mirrors=[...] or set "
        "FCNLIB_VOC_MIRRORS; offline, fcnlib.data.load_data_voc() uses the generated teaching dataset instead."
    )


def download_voc(
    root: str | Path | None = None,
    mirrors: str | Sequence[str] | None = None,
    sha1: str | None = VOC_SHA1,
    keep_tar: bool = True,
    progress: bool = True,
    **limits: float,
) -> Path:
    """Download and extract Pascal VOC2012 (2 GB) under ``root`` (default :func:`default_root`); return
    ``root/VOCdevkit/VOC2012`` (at once when there). ``sha1=None``: no check (``$FCNLIB_VOC_SHA1`` replaces the
    default); ``limits``: see :func:`fcnlib.weights.download_file`. An archive already in ``root`` is checked and
    used. :class:`VOCDownloadError` listing every mirror's error; ``ValueError`` for a wrong archive."""
    root = default_root() if root is None else Path(root).expanduser()
    sha1 = (voc_sha1_setting() or sha1) if sha1 == VOC_SHA1 else sha1
    voc_dir = root / "VOCdevkit" / "VOC2012"
    if find_voc_dir(voc_dir) == voc_dir and (voc_dir / "SegmentationClass").is_dir():
        return voc_dir
    root.mkdir(parents=True, exist_ok=True)
    tar_path = root / VOC_TAR_NAME
    if not tar_path.exists():
        _fetch_archive(tar_path, voc_mirrors(mirrors), sha1, progress, **limits)
    elif sha1 is not None and (found := file_digest(tar_path, "sha1", progress)) != sha1:
        raise ValueError(
            f"{tar_path} has sha1 {found}, expected {sha1}: incomplete or another file. Delete it and run download_voc again (or place the right file there)."
        )
    # Extracted into a temporary folder, then swapped in (a half-extracted earlier one is replaced).
    tmp = voc_dir.parent.parent / f".voc-extract-{uuid.uuid4().hex[:8]}"
    old = voc_dir.with_name(f".VOC2012-old-{uuid.uuid4().hex[:8]}")
    try:
        safe_extract(tar_path, tmp, progress=progress)
        extracted = find_voc_dir(tmp)
        if extracted != tmp / "VOCdevkit" / "VOC2012":
            raise ValueError(
                f"{tar_path} has no VOCdevkit/VOC2012 with JPEGImages/ and ImageSets/Segmentation/: it is not the VOC2012 archive"
            )
        voc_dir.parent.mkdir(parents=True, exist_ok=True)
        if voc_dir.exists():
            os.replace(voc_dir, old)  # an incomplete earlier extraction
        os.replace(extracted, voc_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    if not keep_tar:
        tar_path.unlink()
    return voc_dir
