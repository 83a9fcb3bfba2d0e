"""fcnlib.data.normalize_image refuses what it would silently get wrong (issue 25): floats in 0..255, images
normalised already, integer dtypes other than uint8; the reference is torchvision's normalize."""

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from fcnlib.data import normalize_image
from fcnlib.data.transforms import IMAGENET_MEAN, IMAGENET_STD


def _reference(image_uint8):
    return TF.normalize(image_uint8.float() / 255, list(IMAGENET_MEAN), list(IMAGENET_STD))


def test_floats_in_0_255_are_refused_and_the_advice_works():
    image = torch.randint(0, 256, (3, 6, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    as_float = image.float()  # 0..255 in float: (x - mean) / std would reach about 1100
    with pytest.raises(ValueError, match=r"expects floats in \[0, 1\], got \d+ to \d+: pass image / 255"):
        normalize_image(as_float)
    torch.testing.assert_close(normalize_image(as_float / 255), _reference(image))  # the advice, followed
    torch.testing.assert_close(normalize_image(image), _reference(image))
    torch.testing.assert_close(normalize_image(image[None].double() / 255), _reference(image)[None])


def test_normalised_images_and_other_dtypes_are_refused():
    image = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    with pytest.raises(ValueError, match=r"pass the uint8 image \(normalised already\?\)"):
        normalize_image(normalize_image(image))
    with pytest.raises(TypeError, match=r"uint8 pixels 0\.\.255 or floats in \[0, 1\], got torch.int32"):
        normalize_image(image.int())
    assert normalize_image(torch.zeros(3, 0, 5)).shape == (3, 0, 5)  # empty: nothing to check
