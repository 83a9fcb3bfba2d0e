"""Data: VOC classes and colours (classes), file reading (labels), the dataset (voc), joint transforms,
the teaching dataset (synthetic), downloads (download), the one-call loader (loader), the sample photo."""
# ruff: noqa: F401 (re-exports)

from ..weights import DownloadError
from .classes import IGNORE_INDEX, VOC_CLASSES, VOC_COLORMAP, VOID_COLOR, voc_palette
from .download import VOC_MIRRORS, VOC_SHA1, VOC_TAR_NAME, VOCDownloadError, download_voc
from .labels import MAX_UNKNOWN, read_image, read_label, read_photo, read_split, upload_bytes
from .loader import StepLimit, collate_batch, load_data_voc, run_summary, shown_path
from .photo import HOPPER_OUTLINE, person_mask, sample_photo, two_person_scene
from .synthetic import SHAPES, SYNTHETIC_CLASSES, ensure_synthetic_voc, make_synthetic_voc, render_scene
from .transforms import SegmentationTransform, denormalize, normalize_image, void_to_background
from .voc import CroppedBatch, VOCDataset, default_root, find_voc_dir
