"""Time one ZOPO step: 300 scored points, 3,000 candidates of 384 dims (target < 100 ms).

Usage: .venv/bin/python bench/zopo_step.py [--threads 1] [--steps 30]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import gpytorch
import torch
from machine import cpu_name  # bench/machine.py (scripts run as bench/NAME.py)

from optimizers.zopo import NeuralTangentKernel, ZOPOConfig, ZOPOSearch

N_CANDIDATES, N_SCORED, DIM = 3000, 300, 384


def unit_vectors(n: int, d: int, gen: torch.Generator) -> torch.Tensor:
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    return x / x.norm(dim=1, keepdim=True)


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def time_steps(uncertainty: str, steps: int, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    ids = [f"c{i}" for i in range(len(x))]
    search = ZOPOSearch(ZOPOConfig(uncertainty=uncertainty, seed=0))
    search.add_candidates(ids, x.float().numpy())  # float32, as an embedding model gives
    for i in range(N_SCORED):
        search.tell(ids[i], float(y[i]))
    times = []
    while len(times) < steps:
        before = search.state().steps
        start = time.perf_counter()
        (cid,) = search.ask()
        elapsed = time.perf_counter() - start
        if search.state().steps > before:  # explore-queue asks are not steps
            times.append(elapsed)
        search.tell(cid, float(y[int(cid[1:])]))
    return times[3:]  # the first steps include one-off warm-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (tiny matrices)")
    parser.add_argument("--steps", type=int, default=33)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"CPU: {cpu_name()} ({torch.get_num_threads()} torch threads)")
    versions = f"torch {torch.__version__}, gpytorch {gpytorch.__version__}"
    print(f"{versions}, Python {platform.python_version()}")
    print(f"{N_SCORED} scored, {N_CANDIDATES} candidates, d = {DIM}")

    gen = torch.Generator().manual_seed(0)
    x = unit_vectors(N_CANDIDATES, DIM, gen)
    y = torch.sigmoid(10 * (x @ unit_vectors(1, DIM, gen)[0]))  # a smooth score

    kernel = NeuralTangentKernel(DIM, seed=0)
    local = torch.rand(20, DIM, generator=gen, dtype=torch.float64)
    scored = x[:N_SCORED]
    for label, a, b, repeats in [
        ("20 x 20 (one local fit)", local, local, 200),
        ("300 x 300", scored, scored, 30),
        ("3000 x 3000", x, x, 5),
    ]:
        ms = median_ms(lambda a=a, b=b: kernel.forward(a, b), repeats)
        print(f"kernel matrix {label}: {ms:.3f} ms")

    for mode in ("variance", "gradient_trace"):
        times = [1e3 * t for t in time_steps(mode, args.steps, x, y)]
        q = statistics.quantiles(times, n=10)
        print(
            f"step ({mode}): median {statistics.median(times):.2f} ms, "
            f"p10 {q[0]:.2f} ms, p90 {q[-1]:.2f} ms over {len(times)} steps"
        )


if __name__ == "__main__":
    main()
