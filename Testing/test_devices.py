"""Device choice and the one-line description the panels and the command show."""

from __future__ import annotations

import pytest
import torch

from sparselabel.core.devices import describe_device, select_device
from sparselabel.core.errors import UserInputError


def test_auto_takes_cuda_when_present_and_cpu_otherwise():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type == expected
    assert select_device("CPU").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error():
    with pytest.raises(UserInputError, match="no CUDA GPU is available"):
        select_device("cuda")


def test_unknown_device_is_refused():
    with pytest.raises(UserInputError, match="unknown; expected one of auto, cuda, mps, cpu"):
        select_device("tpu")


def test_description_names_the_hardware():
    text = describe_device(select_device("cpu"))
    assert text.startswith("CPU: ") and "cores" in text and torch.__version__ in text
    if torch.cuda.is_available():
        gpu = describe_device(select_device("cuda"))
        assert torch.cuda.get_device_name(0) in gpu and "GiB" in gpu
