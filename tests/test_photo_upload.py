"""A learner's own photo: a path, an image file's bytes, or the value of an upload widget in ipywidgets 7 (Google
Colab's 7.7: ``{name: {"metadata": ..., "content": bytes}}``) and 8 (a tuple of dicts with a memoryview), read into
the same uint8 image PIL decodes; large photos shrunk. tests/widgets77/run.sh runs this file under ipywidgets 7.7."""

from __future__ import annotations

import datetime as dt
import io

import ipywidgets
import numpy as np
import pytest
import torch
from PIL import Image

from fcnlib.data import read_photo, upload_bytes


def _png(height: int = 30, width: int = 40) -> tuple[bytes, np.ndarray]:
    """A random RGB picture as PNG bytes (lossless) and its pixels [H, W, 3]."""
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue(), pixels


def _value_7(content: bytes) -> dict:
    """FileUpload.value as ipywidgets 7.x builds it from its metadata and data lists."""
    metadata = {"name": "me.png", "type": "image/png", "size": len(content), "lastModified": 1700000000000}
    return {"me.png": {"metadata": metadata, "content": content}}


def _value_8(content: bytes) -> tuple:
    """FileUpload.value as ipywidgets 8.x deserialises it: a tuple of dicts, the content a memoryview."""
    modified = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
    one = {"name": "me.png", "type": "image/png", "size": len(content), "last_modified": modified}
    return ({**one, "content": memoryview(content)},)


@pytest.mark.parametrize("make", [_value_7, _value_8], ids=["ipywidgets7", "ipywidgets8"])
def test_both_upload_formats_give_the_pictures_pixels(make):
    png, pixels = _png()
    assert upload_bytes(make(png)) == png
    photo = read_photo(make(png))
    assert photo.dtype == torch.uint8 and tuple(photo.shape) == (3, 30, 40)
    assert np.array_equal(photo.permute(1, 2, 0).numpy(), pixels)


def test_a_real_upload_widget_of_the_installed_version_is_read():
    png, pixels = _png()
    upload = ipywidgets.FileUpload(accept="image/*", multiple=False)
    assert read_photo(upload.value) is None  # nothing chosen yet: no photo, no error
    if ipywidgets.__version__.startswith("7."):  # what the browser sends: metadata and data, then a counter tick
        upload.metadata = [_value_7(png)["me.png"]["metadata"]]
        upload.data = [png]
        upload._counter += 1
    else:
        upload.value = _value_8(png)
    assert np.array_equal(read_photo(upload.value).permute(1, 2, 0).numpy(), pixels)


def test_paths_bytes_one_file_and_nothing(tmp_path):
    png, pixels = _png()
    (tmp_path / "me.png").write_bytes(png)
    for source in (tmp_path / "me.png", str(tmp_path / "me.png"), png, bytearray(png), _value_8(png)[0]):
        assert np.array_equal(read_photo(source).permute(1, 2, 0).numpy(), pixels), type(source)
    assert read_photo(None) is None and read_photo(()) is None and read_photo({}) is None
    assert upload_bytes(()) is None and upload_bytes({}) is None


def test_large_photos_are_shrunk_keeping_their_shape():
    png, pixels = _png(900, 1200)
    photo = read_photo(png, max_side=640)
    assert tuple(photo.shape) == (3, 480, 640)
    reference = torch.nn.functional.interpolate(
        torch.from_numpy(pixels).permute(2, 0, 1)[None].float(), (480, 640), mode="bilinear", antialias=True
    )[0]
    assert (photo.float() - reference).abs().max() <= 0.5 + 1e-4  # rounded to the nearest uint8 level
    assert tuple(read_photo(png, max_side=None).shape) == (3, 900, 1200)


def test_bad_sources_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="not a picture PIL can read.*JPEG or PNG"):
        read_photo(b"certainly not a picture")
    with pytest.raises(ValueError, match="not a FileUpload value.*upload.value"):
        read_photo([1, 2, 3])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_photo(tmp_path / "missing.jpg")
