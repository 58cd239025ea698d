"""Reading and writing images with their geometry (SimpleITK), label files, and finding scans in folders.

Every failure a user can cause (missing file, unreadable or corrupt file, wrong dimension, label on another grid,
empty folder) raises :class:`~sparselabel.core.errors.UserInputError` naming the file and what was expected.
Writes are atomic: a temporary file beside the target is renamed over it, so a crash never leaves half a file.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .atomic import atomic_path
from .errors import UserInputError, brief
from .image import Geometry, Image

VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
IMAGE_2D_SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_SUFFIXES = VOLUME_SUFFIXES + IMAGE_2D_SUFFIXES


def base_name(path: str | Path) -> str:
    """File name without its image suffix (``case_01.nii.gz`` → ``case_01``); how images and labels pair up."""
    name = Path(path).name
    for suffix in IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(IMAGE_SUFFIXES) and not path.name.startswith(".")


def dicom_series_ids(folder: Path) -> list[str]:
    """Series instance UIDs of the DICOM series directly in ``folder``."""
    reader = sitk.ImageSeriesReader()
    reader.GlobalWarningDisplayOff()
    return list(reader.GetGDCMSeriesIDs(str(folder)) or ())


def _read_sitk(path: Path) -> sitk.Image:
    if not path.exists():
        raise UserInputError(f"{path}: no such file or folder")
    try:
        if path.is_dir():
            series = dicom_series_ids(path)
            if not series:
                raise UserInputError(f"{path}: folder holds no DICOM series (expected an image file or a DICOM folder)")
            if len(series) > 1:
                raise UserInputError(f"{path}: folder holds {len(series)} DICOM series; expected exactly one")
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(path), series[0]))
            return reader.Execute()
        _check_nifti(path)
        # Any file goes to ITK (a single DICOM file has no telling suffix); the error below lists what we expect.
        return sitk.ReadImage(str(path))
    except RuntimeError as error:
        detail = str(error).strip().splitlines()
        reason = next((line for line in detail if "ERROR" in line or "Could not" in line or "Unable" in line), "")
        reason = reason.split(":", 1)[-1].strip() if reason else "not a readable image"
        raise UserInputError(f"{path}: cannot read it as an image ({reason}); expected one of "
                             f"{', '.join(IMAGE_SUFFIXES)} or a DICOM series folder") from None


_NIFTI_FLOATS = {16: "f4", 64: "f8"}  # NIfTI datatype codes of float32 and float64 voxels


def _nifti_layout(header: bytes) -> tuple[int, int, str | None] | None:
    """Where a NIfTI-1/-2 file's voxels start, how many bytes they take, and their numpy type when they are floats
    (else None); None when ``header`` is not NIfTI."""
    for order in "<>":
        if len(header) >= 348 and struct.unpack(order + "i", header[:4])[0] == 348:
            dims = struct.unpack(order + "8h", header[40:56])
            datatype, bitpix = struct.unpack(order + "2h", header[70:74])
            offset = int(struct.unpack(order + "f", header[108:112])[0])
            break
        if len(header) >= 540 and struct.unpack(order + "i", header[:4])[0] == 540:
            datatype, bitpix = struct.unpack(order + "2h", header[12:16])
            dims = struct.unpack(order + "8q", header[16:80])
            offset = struct.unpack(order + "q", header[168:176])[0]
            break
    else:
        return None
    voxels = int(np.prod([max(int(d), 1) for d in dims[1 : 1 + max(0, min(int(dims[0]), 7))]]))
    kind = _NIFTI_FLOATS.get(int(datatype))
    return max(offset, 352), voxels * max(bitpix, 8) // 8, (order + kind) if kind else None


class _NonFiniteCount:
    """Counts NaN and infinite values in a stream of raw voxel bytes that arrives in pieces of any size."""

    def __init__(self, start: int, size: int, dtype: str | None):
        self.start, self.end, self.dtype = start, start + size, np.dtype(dtype) if dtype else None
        self.position, self.carry, self.count = 0, b"", 0

    def feed(self, chunk: bytes) -> None:
        begin, self.position = self.position, self.position + len(chunk)
        if self.dtype is None:
            return
        inside = chunk[max(self.start - begin, 0): max(min(self.end - begin, len(chunk)), 0)]
        data = self.carry + inside
        whole = len(data) // self.dtype.itemsize * self.dtype.itemsize
        self.carry = data[whole:]
        values = np.frombuffer(data[:whole], dtype=self.dtype)
        self.count += int(values.size - np.count_nonzero(np.isfinite(values)))


def _check_nifti(path: Path) -> None:
    """ITK silently zero-fills truncated NIfTI files and reads NaN and infinite voxels as 0; refuse such files
    instead of handing out wrong voxels."""
    name = path.name.lower()
    if not name.endswith((".nii", ".nii.gz")):
        return
    try:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as handle:
            header = handle.read(540)
            layout = _nifti_layout(header)
            if layout is None:
                return
            counter = _NonFiniteCount(*layout)
            counter.feed(header)
            if opener is open and counter.dtype is None:  # whole numbers: the file's size tells whether it is whole
                counter.position = path.stat().st_size
            else:
                while chunk := handle.read(1 << 22):
                    counter.feed(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise UserInputError(f"{path}: corrupt or truncated file ({brief(error)}); "
                             "expected a complete NIfTI image") from None
    if counter.position < counter.end:
        raise UserInputError(f"{path}: truncated NIfTI file ({counter.position} of {counter.end} bytes); "
                             "expected a complete image")
    if counter.count:
        raise UserInputError(f"{path}: {counter.count} voxels are NaN or infinite; expected finite intensities")


def _to_scalar(image: sitk.Image, path: Path) -> sitk.Image:
    """Colour 2D pictures (PNG/JPEG screenshots of X-rays) become grey; other vector images are refused."""
    components = image.GetNumberOfComponentsPerPixel()
    if components == 1:
        return image
    if image.GetDimension() == 2 and components in (3, 4):
        array = sitk.GetArrayFromImage(image).astype(np.float32)
        grey = array[..., 0] * 0.299 + array[..., 1] * 0.587 + array[..., 2] * 0.114
        result = sitk.GetImageFromArray(grey.astype(np.float32))
        result.CopyInformation(sitk.VectorIndexSelectionCast(image, 0))
        return result
    raise UserInputError(f"{path}: has {components} values per voxel; expected a scalar (single-channel) image")


def read_image(path: str | Path, dims: Iterable[int] = (2, 3)) -> Image:
    """Read a 2D or 3D scalar image (file or DICOM folder) with its geometry.

    ``dims`` says which dimensions the caller accepts; a 3D file with one slice counts as 2D when only 2D is
    accepted, and a 4D image (time series, multi-echo) is refused with a message saying so.
    """
    path = Path(path)
    dims = tuple(dims)
    image = _to_scalar(_read_sitk(path), path)
    size = image.GetSize()
    if image.GetDimension() == 4 and size[3] == 1:
        image = image[:, :, :, 0]
    if image.GetDimension() == 3 and size[2] == 1 and 3 not in dims:
        image = image[:, :, 0]
    if image.GetDimension() not in dims:
        wanted = " or ".join(f"{d}D" for d in dims)
        shape = "×".join(str(s) for s in image.GetSize())
        raise UserInputError(f"{path}: is a {image.GetDimension()}D image ({shape}); expected a {wanted} image")
    geometry = Geometry(tuple(image.GetSpacing()), tuple(image.GetOrigin()), tuple(image.GetDirection()))
    return Image(sitk.GetArrayFromImage(image), geometry)


def read_volume(path: str | Path) -> Image:
    """Read a 3D volume; a 2D picture or a 4D series is refused with a clear message."""
    return read_image(path, dims=(3,))


def read_label(path: str | Path, reference: Image, tolerance: float = 1e-3) -> Image:
    """Read a label image that must lie on ``reference``'s voxel grid; values become non-negative integers.

    8-bit masks saved as 0/255 (common for PNG) are kept as they are: callers pick the value they evaluate.
    """
    path = Path(path)
    label = read_image(path, dims=(reference.geometry.dim,))
    problems = reference.mismatch(label, tolerance)
    if problems:
        raise UserInputError(f"{path}: label geometry does not match its image ({'; '.join(problems)}); "
                             "expected the same size, spacing, origin and direction")
    values = label.array
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(np.round(values) != values):
        raise UserInputError(f"{path}: label values must be non-negative integers")
    dtype = np.uint8 if values.max(initial=0) <= 255 else np.uint16
    return label.with_array(values.astype(dtype))


def grid_mismatch(image_path: str | Path, label_path: str | Path, tolerance: float = 1e-3) -> str:
    """How the label at ``label_path`` does not lie on the voxel grid of the image at ``image_path``, in words (empty
    when it does), from the files' headers alone where they have one."""
    def grid(path: Path) -> Image:
        if path.is_dir():
            return read_image(path)
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        try:
            reader.ReadImageInformation()
        except RuntimeError:
            return read_image(path)  # names the problem
        size, dim = reader.GetSize(), reader.GetDimension()
        if dim == 3 and size[2] == 1:
            size, dim = size[:2], 2
        geometry = Geometry(reader.GetSpacing()[:dim], reader.GetOrigin()[:dim],
                            tuple(np.reshape(reader.GetDirection(), (reader.GetDimension(),) * 2)[:dim, :dim].ravel()))
        return Image(np.broadcast_to(np.uint8(0), tuple(reversed(size))), geometry)

    return "; ".join(grid(Path(image_path)).mismatch(grid(Path(label_path)), tolerance))


def write_image(image: Image, path: str | Path, compress: bool = True) -> Path:
    """Write ``image`` with its geometry, atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    if not path.name.lower().endswith(IMAGE_SUFFIXES):
        raise UserInputError(f"{path}: unknown image file type; expected one of {', '.join(IMAGE_SUFFIXES)}")
    sitk_image = sitk.GetImageFromArray(image.array)
    sitk_image.SetSpacing(image.geometry.spacing)
    sitk_image.SetOrigin(image.geometry.origin)
    sitk_image.SetDirection(image.geometry.direction)
    suffix = next(s for s in IMAGE_SUFFIXES if path.name.lower().endswith(s))
    with atomic_path(path, suffix=suffix) as temporary:
        sitk.WriteImage(sitk_image, str(temporary), compress)
    return path


def discover_images(folder: str | Path) -> list[Path]:
    """Image files and DICOM series folders directly inside ``folder``, sorted by name.

    Hidden files and anything that is not an image by suffix are ignored; sub-folders count when they hold a
    DICOM series. A missing or empty folder is a :class:`UserInputError`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserInputError(f"{folder}: no such folder" if not folder.exists()
                             else f"{folder}: is a file; expected a folder of images")
    found = [p for p in folder.iterdir() if is_image_file(p)]
    found += [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and dicom_series_ids(p)]
    if not found:
        raise UserInputError(f"{folder}: holds no images; expected files ending in "
                             f"{', '.join(IMAGE_SUFFIXES)} or DICOM series folders")
    names = [base_name(p) for p in found]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise UserInputError(f"{folder}: several files share the name {', '.join(duplicated)} "
                             "(e.g. case.nii.gz and case.nrrd); expected one image per name")
    return sorted(found, key=lambda p: base_name(p))


def pair_images_with_labels(images: str | Path, labels: str | Path,
                            log: Callable[[str], None] | None = None) -> list[tuple[Path, Path]]:
    """Pairs ``(image, label)`` matched by base name; images without a label are left out (and named to ``log``),
    none at all is an error."""
    label_by_name = {base_name(p): p for p in discover_images(labels)}
    found = discover_images(images)
    pairs = [(p, label_by_name[base_name(p)]) for p in found if base_name(p) in label_by_name]
    unlabelled = [base_name(p) for p in found if base_name(p) not in label_by_name]
    if unlabelled and pairs and log is not None:
        log(f"{len(unlabelled)} image(s) in {images} have no label in {labels}, left out: {', '.join(unlabelled)}")
    if not pairs:
        raise UserInputError(f"{labels}: no label file has the name of an image in {images}; "
                             "expected labels with the same file names as their images")
    return pairs
