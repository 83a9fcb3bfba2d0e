"""download_voc against a local HTTP server: good archive, bad checksum, cut transfers that resume, unsafe tars.

The server (a thread on 127.0.0.1) serves a small VOC-format tar made by make_synthetic_voc,
answers HTTP Range requests with 206 Partial Content, and can cut its first answer short.
"""

from __future__ import annotations

import hashlib
import io
import re
import socket
import tarfile
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from loopback import LoopbackServer, serving, voc_tar_bytes

from fcnlib.data import VOC_TAR_NAME, VOCDownloadError, download_voc, load_data_voc, make_synthetic_voc
from fcnlib.data.download import safe_extract, voc_mirrors


class Server(LoopbackServer):
    def __init__(self) -> None:
        super().__init__(Handler)
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.cut_next: set = set()  # paths whose next answer stops halfway
        self.honour_range = True
        self.trickle: set = set()  # paths served at about 2 kB/s, for at most 5 s


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        requested = self.headers.get("Range")
        self.server.requests.append((self.path, requested))
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if requested and self.server.honour_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        rest = body[start:]
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        if self.path in self.server.cut_next:
            self.server.cut_next.discard(self.path)
            self.wfile.write(rest[: len(rest) // 2])  # ... and the connection closes: a dropped transfer
            return
        if self.path in self.server.trickle:
            start = time.monotonic()
            for k in range(0, len(rest), 100):
                if time.monotonic() - start > 5:
                    return
                try:
                    self.wfile.write(rest[k : k + 100])
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return
                time.sleep(0.05)
        self.wfile.write(rest)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    with serving(Server()) as srv:
        yield srv


@pytest.fixture(scope="module")
def voc_tar(tmp_path_factory) -> tuple[bytes, str]:
    """A VOC-format tar (``VOCdevkit/VOC2012/...``) and its sha1, big enough for several chunks."""
    src = tmp_path_factory.mktemp("src")
    make_synthetic_voc(src, 8, 4, image_size=(96, 128))
    payload = voc_tar_bytes(src)
    return payload, hashlib.sha1(payload).hexdigest()


def dead_url() -> str:
    """An address where nothing listens (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{VOC_TAR_NAME}"


def check_extracted(voc_dir: Path, root: Path) -> None:
    assert voc_dir == root / "VOCdevkit" / "VOC2012"
    assert len((voc_dir / "ImageSets" / "Segmentation" / "train.txt").read_text().split()) == 8
    assert len(list((voc_dir / "JPEGImages").glob("*.jpg"))) == 12
    assert not list(root.glob(".voc-extract-*")) and not (root / (VOC_TAR_NAME + ".part")).exists()


def test_good_archive_is_downloaded_verified_and_extracted(server: Server, voc_tar, tmp_path: Path) -> None:
    payload, sha1 = voc_tar
    server.files["/voc.tar"] = payload
    voc_dir = download_voc(tmp_path, mirrors=[server.url("/voc.tar")], sha1=sha1, timeout=5, progress=False)
    check_extracted(voc_dir, tmp_path)
    assert (tmp_path / VOC_TAR_NAME).read_bytes() == payload  # kept (keep_tar=True)
    assert server.requests == [("/voc.tar", None)]


def test_skips_everything_when_already_extracted(server: Server, voc_tar, tmp_path: Path) -> None:
    payload, sha1 = voc_tar
    server.files["/voc.tar"] = payload
    first = download_voc(tmp_path, mirrors=[server.url("/voc.tar")], sha1=sha1, timeout=5, progress=False)
    (tmp_path / VOC_TAR_NAME).unlink()
    marker = first / "JPEGImages" / "untouched.txt"
    marker.write_text("still here")
    again = download_voc(tmp_path, mirrors=[dead_url()], sha1=sha1, timeout=5, progress=False)
    assert again == first and marker.read_text() == "still here" and len(server.requests) == 1


def test_wrong_checksum_is_refused_and_nothing_is_extracted(server: Server, voc_tar, tmp_path: Path) -> None:
    payload, _ = voc_tar
    server.files["/voc.tar"] = payload
    with pytest.raises(VOCDownloadError) as err:
        download_voc(tmp_path, mirrors=[server.url("/voc.tar")], sha1="0" * 40, timeout=5, progress=False)
    message = str(err.value)
    assert "checksum mismatch" in message and hashlib.sha1(payload).hexdigest() in message
    assert not (tmp_path / "VOCdevkit").exists() and not list(tmp_path.glob("*.tar*"))


def test_cut_transfer_resumes_with_a_range_request(server: Server, voc_tar, tmp_path: Path) -> None:
    payload, sha1 = voc_tar
    server.files["/voc.tar"] = payload
    server.cut_next.add("/voc.tar")
    voc_dir = download_voc(tmp_path, mirrors=[server.url("/voc.tar")], sha1=sha1, timeout=5, progress=False)
    check_extracted(voc_dir, tmp_path)
    assert server.requests == [("/voc.tar", None), ("/voc.tar", f"bytes={len(payload) // 2}-")]


def test_partial_file_from_an_earlier_run_is_continued(server: Server, voc_tar, tmp_path: Path) -> None:
    payload, sha1 = voc_tar
    server.files["/voc.tar"] = payload
    (tmp_path / (VOC_TAR_NAME + ".part")).write_bytes(payload[:1000])
    download_voc(tmp_path, mirrors=[server.url("/voc.tar")], sha1=sha1, timeout=5, progress=False)
    assert server.requests == [("/voc.tar", "bytes=1000-")]
    assert (tmp_path / VOC_TAR_NAME).read_bytes() == payload


def test_server_without_range_support_restarts_from_zero(server: Server, voc_tar, tmp_path: Path) -> None:
    payload, sha1 = voc_tar
    server.files["/voc.tar"] = payload
    server.honour_range = False
    (tmp_path / (VOC_TAR_NAME + ".part")).write_bytes(b"x" * 500)
    voc_dir = download_voc(tmp_path, mirrors=[server.url("/voc.tar")], sha1=sha1, timeout=5, progress=False)
    check_extracted(voc_dir, tmp_path)
    assert (tmp_path / VOC_TAR_NAME).read_bytes() == payload


def test_corrupt_partial_file_is_discarded_and_fetched_again(server: Server, voc_tar, tmp_path: Path) -> None:
    payload, sha1 = voc_tar
    server.files["/voc.tar"] = payload
    (tmp_path / (VOC_TAR_NAME + ".part")).write_bytes(b"garbage!" * 100)  # resumed, then fails the check
    voc_dir = download_voc(tmp_path, mirrors=[server.url("/voc.tar")], sha1=sha1, timeout=5, progress=False)
    check_extracted(voc_dir, tmp_path)
    assert server.requests == [("/voc.tar", "bytes=800-"), ("/voc.tar", None)]


def test_mirrors_are_tried_in_order(server: Server, voc_tar, tmp_path: Path, monkeypatch) -> None:
    payload, sha1 = voc_tar
    server.files["/voc.tar"] = payload
    monkeypatch.setenv("FCNLIB_VOC_MIRRORS", f"{dead_url()}, {server.url('/missing.tar')} {server.url('/voc.tar')}")
    voc_dir = download_voc(tmp_path, sha1=sha1, timeout=5, progress=False)
    check_extracted(voc_dir, tmp_path)
    assert [path for path, _ in server.requests] == ["/missing.tar", "/voc.tar"]


def test_offline_error_lists_what_was_tried_and_the_manual_route(server: Server, tmp_path: Path) -> None:
    urls = [dead_url(), server.url("/missing.tar")]
    with pytest.raises(VOCDownloadError) as err:
        download_voc(tmp_path, mirrors=urls, timeout=5, progress=False)
    message = str(err.value)
    for url in urls:
        assert url in message
    assert "404" in message or "Not Found" in message
    assert str(tmp_path / VOC_TAR_NAME) in message and "4e443f8a2eca6b1dac8a6c57641b67dd40621a49" in message
    assert "FCNLIB_VOC_MIRRORS" in message


def test_archive_placed_by_hand_is_used_offline(voc_tar, tmp_path: Path) -> None:
    payload, sha1 = voc_tar
    (tmp_path / VOC_TAR_NAME).write_bytes(payload)
    voc_dir = download_voc(tmp_path, mirrors=[dead_url()], sha1=sha1, timeout=5, progress=False, keep_tar=False)
    check_extracted(voc_dir, tmp_path)
    assert not (tmp_path / VOC_TAR_NAME).exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / VOC_TAR_NAME).write_bytes(payload[:-10])
    with pytest.raises(ValueError, match="has sha1 .* expected"):
        download_voc(tmp_path / "other", mirrors=[dead_url()], sha1=sha1, progress=False)


def evil_tar(kind: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        good = tarfile.TarInfo("VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt")
        good.size = 4
        tar.addfile(good, io.BytesIO(b"a b\n"))
        if kind == "dotdot":
            bad = tarfile.TarInfo("VOCdevkit/../../evil.txt")
            bad.size = 4
            tar.addfile(bad, io.BytesIO(b"evil"))
        elif kind == "absolute":
            bad = tarfile.TarInfo("/tmp/evil.txt")
            bad.size = 4
            tar.addfile(bad, io.BytesIO(b"evil"))
        else:
            link = tarfile.TarInfo("VOCdevkit/escape")
            link.type = tarfile.SYMTYPE
            link.linkname = "../../.."
            tar.addfile(link)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_members_outside_the_target_are_refused(server: Server, tmp_path: Path, kind: str) -> None:
    payload = evil_tar(kind)
    server.files["/evil.tar"] = payload
    root = tmp_path / "a" / "b"
    with pytest.raises(ValueError, match="refusing to extract"):
        download_voc(
            root, mirrors=[server.url("/evil.tar")], sha1=hashlib.sha1(payload).hexdigest(), timeout=5, progress=False
        )
    assert not list(tmp_path.rglob("evil.txt")) and not (root / "VOCdevkit").exists()
    assert not list(root.glob(".voc-extract-*"))


def test_our_own_check_works_without_the_data_filter(tmp_path: Path, monkeypatch) -> None:
    """Pythons before 3.11.4 have no tarfile.data_filter: our member check alone must refuse."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    path = tmp_path / "evil.tar"
    path.write_bytes(evil_tar("dotdot"))
    with pytest.raises(ValueError, match=r"VOCdevkit/\.\./\.\./evil\.txt"):
        safe_extract(path, tmp_path / "x" / "y", progress=False)
    assert not list(tmp_path.rglob("evil.txt"))


def test_mirror_list_validation(monkeypatch) -> None:
    monkeypatch.delenv("FCNLIB_VOC_MIRRORS", raising=False)
    assert voc_mirrors()[0] == "http://d2l-data.s3-accelerate.amazonaws.com/VOCtrainval_11-May-2012.tar"
    assert voc_mirrors("http://a/x.tar, https://b/y.tar") == ["http://a/x.tar", "https://b/y.tar"]
    with pytest.raises(ValueError, match="not an http"):
        voc_mirrors(["ftp://example.org/x.tar"])
    with pytest.raises(ValueError, match="empty"):
        voc_mirrors([])


def test_a_trickling_mirror_is_abandoned_for_the_next(server: Server, voc_tar, tmp_path: Path) -> None:
    payload, sha1 = voc_tar
    server.files["/slow.tar"] = server.files["/voc.tar"] = payload
    server.trickle.add("/slow.tar")
    start = time.monotonic()
    voc_dir = download_voc(tmp_path, mirrors=[server.url("/slow.tar"), server.url("/voc.tar")], sha1=sha1,
                           progress=False, min_rate=50_000, window=1.0)  # fmt: skip
    assert time.monotonic() - start < 5
    check_extracted(voc_dir, tmp_path)
    with pytest.raises(VOCDownloadError) as err:  # alone, it fails with a message that says what to do
        download_voc(tmp_path / "b", mirrors=[server.url("/slow.tar")], sha1=sha1, progress=False,
                     min_rate=50_000, window=1.0)  # fmt: skip
    message = str(err.value)
    assert "stalled" in message and "run again to resume" in message and "FCNLIB_VOC_MIRRORS" in message


def test_a_half_extracted_folder_is_replaced_from_the_archive(voc_tar, tmp_path: Path) -> None:
    payload, sha1 = voc_tar
    (tmp_path / VOC_TAR_NAME).write_bytes(payload)
    half = tmp_path / "VOCdevkit" / "VOC2012" / "JPEGImages"
    half.mkdir(parents=True)
    (half / "synth_000000.jpg").write_bytes(b"cut short")
    voc_dir = download_voc(tmp_path, mirrors=[dead_url()], sha1=sha1, progress=False)
    check_extracted(voc_dir, tmp_path)
    assert (voc_dir / "JPEGImages" / "synth_000000.jpg").read_bytes() != b"cut short"
    assert [p.name for p in (tmp_path / "VOCdevkit").iterdir()] == ["VOC2012"]  # the old folder is gone


# ----------------------------------------------------------------------------- load_data_voc(download=...)
@pytest.fixture(scope="module")
def voc_format_tar(tmp_path_factory) -> tuple[bytes, str]:
    """A VOC-format tar without classes.json: read as Pascal VOC2012 (21 classes)."""
    src = tmp_path_factory.mktemp("voc_src")
    (make_synthetic_voc(src, 4, 2, image_size=(48, 64)) / "classes.json").unlink()
    payload = voc_tar_bytes(src)
    return payload, hashlib.sha1(payload).hexdigest()


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("FCNLIB_DATA", "FCNLIB_DATA_DIR", "FCNLIB_OFFLINE", "FCNLIB_VOC_MIRRORS", "FCNLIB_VOC_SHA1"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FCNLIB_PROFILE", "quick")
    return monkeypatch


SMALL = dict(n_train=4, n_val=2, image_size=(48, 64))


@pytest.mark.parametrize(
    "download, env", [(True, {}), ("auto", {"FCNLIB_DATA": "voc"}), ("auto", {"FCNLIB_PROFILE": "full"})]
)
def test_load_data_voc_downloads_voc_from_a_mirror(server, voc_format_tar, tmp_path, clean_env, capsys, download, env):
    payload, sha1 = voc_format_tar
    server.files["/mirror.tar"] = payload
    clean_env.setenv("FCNLIB_VOC_MIRRORS", server.url("/mirror.tar"))
    clean_env.setenv("FCNLIB_VOC_SHA1", sha1)  # the mirror serves its own archive, not VOC2012's
    for name, value in env.items():
        clean_env.setenv(name, value)
    train_iter, test_iter = load_data_voc(2, (32, 48), root=tmp_path, download=download, **SMALL)
    assert train_iter.dataset.source == test_iter.dataset.source == "VOC2012"
    assert train_iter.dataset.num_classes == 21 and len(train_iter.dataset) == 4
    assert (tmp_path / "VOCdevkit" / "VOC2012" / "JPEGImages").is_dir() and not (tmp_path / "synthetic").exists()
    assert "Using Pascal VOC2012" in capsys.readouterr().out


def test_auto_falls_back_to_the_teaching_dataset_and_says_why(tmp_path, clean_env, capsys):
    clean_env.setenv("FCNLIB_DATA", "voc")
    mirror = dead_url()
    clean_env.setenv("FCNLIB_VOC_MIRRORS", mirror)
    train_iter, _ = load_data_voc(2, (32, 48), root=tmp_path, download="auto", **SMALL)
    assert train_iter.dataset.source == "synthetic"
    line = capsys.readouterr().out
    assert "teaching dataset" in line and "downloading VOC2012 failed" in line and mirror in line
    clean_env.setenv("FCNLIB_OFFLINE", "1")
    load_data_voc(2, (32, 48), root=tmp_path, download="auto", **SMALL)
    assert "FCNLIB_OFFLINE is set" in capsys.readouterr().out


def test_download_true_insists_and_false_never_asks(server, voc_format_tar, tmp_path, clean_env, capsys):
    server.files["/mirror.tar"] = voc_format_tar[0]
    clean_env.setenv("FCNLIB_VOC_MIRRORS", dead_url())
    with pytest.raises(VOCDownloadError, match="could not download"):
        load_data_voc(2, (32, 48), root=tmp_path, download=True, **SMALL)
    clean_env.setenv("FCNLIB_OFFLINE", "1")
    with pytest.raises(VOCDownloadError, match="FCNLIB_OFFLINE"):
        load_data_voc(2, (32, 48), root=tmp_path, download=True, **SMALL)
    clean_env.delenv("FCNLIB_OFFLINE")
    clean_env.setenv("FCNLIB_DATA", "voc")
    clean_env.setenv("FCNLIB_VOC_MIRRORS", server.url("/mirror.tar"))
    train_iter, _ = load_data_voc(2, (32, 48), root=tmp_path, download=False, **SMALL)
    assert train_iter.dataset.source == "synthetic" and server.requests == []
    with pytest.raises(ValueError, match="download must be"):
        load_data_voc(2, (32, 48), root=tmp_path, download="yes")


def test_fcnlib_data_synthetic_wins_over_voc(voc_format_tar, tmp_path, clean_env, capsys):
    payload, sha1 = voc_format_tar
    (tmp_path / VOC_TAR_NAME).write_bytes(payload)
    download_voc(tmp_path, mirrors=[dead_url()], sha1=sha1, progress=False)
    assert load_data_voc(2, (32, 48), root=tmp_path, **SMALL)[0].dataset.source == "VOC2012"
    clean_env.setenv("FCNLIB_DATA", "synthetic")
    assert load_data_voc(2, (32, 48), root=tmp_path, **SMALL)[0].dataset.source == "synthetic"
    assert "FCNLIB_DATA=synthetic" in capsys.readouterr().out


def _link_chain_tar() -> bytes:
    """Links that each point inside, but through one another escape: a -> ., a/b (that is b) -> .., b/evil.txt."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        good = tarfile.TarInfo("VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt")
        good.size = 4
        tar.addfile(good, io.BytesIO(b"a b\n"))
        for name, target in (("a", "."), ("a/b", "..")):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            tar.addfile(link)
        bad = tarfile.TarInfo("b/evil.txt")
        bad.size = 4
        tar.addfile(bad, io.BytesIO(b"evil"))
    return buffer.getvalue()


@pytest.mark.parametrize("data_filter", [True, False])
def test_a_chain_of_links_cannot_write_outside(tmp_path: Path, monkeypatch, data_filter: bool) -> None:
    """Issue 25: on a Python without tarfile.data_filter (before 3.11.4) the names alone looked safe."""
    if not data_filter:  # extract as those Pythons do: no filter at all
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
        monkeypatch.setattr(tarfile.TarFile, "extraction_filter", None, raising=False)
    path = tmp_path / "chain.tar"
    path.write_bytes(_link_chain_tar())
    target = tmp_path / "x" / "y"
    with pytest.raises((ValueError, tarfile.TarError), match=r"'a/b'|outside"):
        safe_extract(path, target, progress=False)
    assert not list(tmp_path.rglob("evil.txt")) and not (tmp_path / "x" / "evil.txt").exists()
