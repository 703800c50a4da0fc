"""vgan.allocator: keeping freed memory stops the per-step page faults."""
import resource

import pytest
import torch

from vgan.allocator import keep_freed_memory


def test_keep_freed_memory_stops_page_faults_on_large_tensors():
    if not keep_freed_memory():
        pytest.skip("the C library is not glibc")
    for _ in range(3):  # warm up: the heap grows to hold the block
        torch.ones(16 << 20)  # 64 MiB: above glibc's largest default mmap threshold
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        torch.ones(16 << 20)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 16384  # 5 * 16384 if each 64 MiB block went back to the OS and was faulted in again
