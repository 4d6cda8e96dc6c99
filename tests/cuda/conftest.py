"""The device the CUDA tests run on: the GPU, or, with ``RNNKIT_CUDA_TESTS_ON_CPU=1``, the CPU
(to check the tests themselves on a machine without one: every comparison then holds
trivially or within the CPU's own tolerance). Without either they skip, with the reason."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

ON_CPU = os.environ.get("RNNKIT_CUDA_TESTS_ON_CPU") == "1"


@pytest.fixture
def device() -> Iterator[torch.device]:
    if torch.cuda.is_available():
        # cuDNN's RNNs and cuBLAS would otherwise round float32 through TF32 (10-bit
        # mantissa) and no 1e-5 comparison could hold; rnnkit leaves the setting to the user
        before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        yield torch.device("cuda", 0)
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
    elif ON_CPU:
        yield torch.device("cpu")
    else:
        pytest.skip(
            "needs an NVIDIA GPU (torch.cuda.is_available() is False); run "
            "benchmarks/gpu_check.sh on a machine with one"
        )
