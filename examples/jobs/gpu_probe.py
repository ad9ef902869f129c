"""A small GPU job: says which GPUs it was given and measures a bf16 matrix product on them.

Run it through aitc (`aitc submit --gpus 1 -- python examples/jobs/gpu_probe.py`) to see the
pinning the local executor sets: the job sees only the GPUs of its placement.
"""

import os
import time

import torch


def main() -> None:
    print("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES"))
    print("NVIDIA_VISIBLE_DEVICES", os.environ.get("NVIDIA_VISIBLE_DEVICES"))
    count = torch.cuda.device_count()
    print("torch sees", count, "GPU(s):", [torch.cuda.get_device_name(i) for i in range(count)])
    if not count:
        return
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn_like(a)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / 10
    print(f"bf16 {n}x{n}x{n} matmul: {2 * n**3 / seconds / 1e12:.0f} TFLOP/s")


if __name__ == "__main__":
    main()
