"""Time and memory of ``prakerja.domain.photo.normalise`` per candidate Lambda memory size. Not a test.

Usage: ``python bench/photo.py [PHOTOS_DIR]`` (``make bench-photo``); PHOTOS_DIR defaults to
tests/fixtures/photos. Measures the largest phone photo there and the largest HEIC.

Each measurement runs in a fresh subprocess pinned to one CPU (Linux ``sched_setaffinity``):
one cold call (first use of the decoders in the process), then warm calls. "The" time is the median
CPU time (user + system, all threads) of the warm calls: on one pinned CPU that is the single-core
work, and unlike wall time it does not grow when other processes share the CPU (wall time is
printed too, as a check). Memory is the rise of the process's peak RSS (``ru_maxrss``) over the
first call -- it sees Pillow's and libheif's C buffers -- and the ``tracemalloc`` peak of a
separate call, which sees Python allocations only (the upload and output bytes, not the pixels).

This machine cannot emulate Lambda's CPU share. Lambda allocates CPU in proportion to memory
(1,769 MB = one full vCPU), and ``normalise`` is essentially single-threaded, so the estimate for
a size is the measured single-core time x max(1, 1769 / size). The result depends on this
machine's CPU being comparable to a Lambda vCPU; re-measure on Lambda before trusting the ms.

The last line is machine-readable:
``photo: seconds=<warm single-core CPU s, largest phone photo> peak_mb=<its RSS rise, MB>``.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = ROOT / "tests" / "fixtures" / "photos"
PHONE_PHOTOS = ("jpg_mobile_HMD_Nokia_8.3_5G.jpg", "jpg_hdr_iphone_hdr_YES.jpg")
LAMBDA_SIZES_MB = (512, 1024, 1536, 2048)
FULL_VCPU_MB = 1769
WARM_CALLS = 5
PROCESSES = 3


def _max_rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def _pin_to_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def measure(path: Path) -> dict:
    """In this (fresh) process: time and memory of normalise() on one file; returns a dict."""
    pinned = _pin_to_one_cpu()
    sys.path.insert(0, str(ROOT / "src"))
    import pillow_heif  # noqa: F401 -- load the libraries before the baseline; registration is normalise's
    from PIL import ImageCms, JpegImagePlugin, PngImagePlugin  # noqa: F401

    from prakerja.domain import photo

    data = path.read_bytes()
    gc.collect()
    rss_base = _max_rss_mb()
    started = time.perf_counter()
    result = photo.normalise(data)
    cold = time.perf_counter() - started
    rss_peak = _max_rss_mb()
    warm, cpu = [], []
    for _ in range(WARM_CALLS):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        photo.normalise(data)
        warm.append(time.perf_counter() - wall0)
        cpu.append(time.process_time() - cpu0)
    gc.collect()
    tracemalloc.start()
    photo.normalise(data)
    py_peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024
    tracemalloc.stop()
    return {"file": path.name, "bytes": len(data), "source": result.source_type, "pinned": pinned,
            "output": f"{result.width}x{result.height}", "cold_s": cold, "warm_s": statistics.median(warm),
            "cpu_s": statistics.median(cpu), "rss_base_mb": rss_base, "rss_peak_mb": rss_peak,
            "rss_delta_mb": rss_peak - rss_base, "py_peak_mb": py_peak}


def _in_fresh_processes(path: Path) -> dict:
    """Median times and largest memory figures over PROCESSES fresh subprocesses."""
    runs = []
    for _ in range(PROCESSES):
        done = subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True,
                              capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    merged = dict(runs[0])
    for key in ("cold_s", "warm_s", "cpu_s"):
        merged[key] = statistics.median(r[key] for r in runs)
    for key in ("rss_base_mb", "rss_peak_mb", "rss_delta_mb", "py_peak_mb"):
        merged[key] = max(r[key] for r in runs)
    return merged


def _pick(photos: Path) -> list[Path]:
    phones = [photos / name for name in PHONE_PHOTOS if (photos / name).is_file()]
    heics = [p for p in photos.iterdir() if p.suffix.lower() in (".heic", ".heif")]
    if not phones:
        sys.exit(f"no phone photo ({', '.join(PHONE_PHOTOS)}) in {photos}")
    chosen = [max(phones, key=lambda p: p.stat().st_size)]
    if heics:
        chosen.append(max(heics, key=lambda p: p.stat().st_size))
    return chosen


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _report(results: list[dict]) -> None:
    from importlib.metadata import version

    print(f"photo bench: prakerja.domain.photo.normalise -- Python {platform.python_version()}, "
          f"Pillow {version('pillow')}, pillow-heif {version('pillow-heif')}")
    print(f"CPU: {_cpu_model()}, {results[0]['pinned']}; {PROCESSES} fresh processes x "
          f"(1 cold + median of {WARM_CALLS} warm calls)")
    print()
    print(f"{'file':34} {'bytes':>9} {'output':>9} {'cold s':>7} {'wall s':>7} {'cpu s':>6} "
          f"{'RSS base':>8} {'RSS peak':>8} {'RSS rise':>8} {'py peak':>7}  (MB)")
    for r in results:
        print(f"{r['file']:34} {r['bytes']:>9} {r['output']:>9} {r['cold_s']:>7.3f} {r['warm_s']:>7.3f} "
              f"{r['cpu_s']:>6.3f} {r['rss_base_mb']:>8.1f} {r['rss_peak_mb']:>8.1f} "
              f"{r['rss_delta_mb']:>8.1f} {r['py_peak_mb']:>7.1f}")
    print("cold s: first call in the process (wall); wall s / cpu s: median of the warm calls.")
    if any(r["warm_s"] > 1.3 * r["cpu_s"] for r in results):
        print("note: warm wall time is well above CPU time -- other processes shared the CPU; the")
        print("estimates below use CPU time, which that does not inflate.")
    print()
    print("Lambda estimate (NOT measured on Lambda): Lambda gives CPU in proportion to memory,")
    print("1,769 MB = 1 vCPU; estimated s = measured single-core CPU s x max(1, 1769 / MB).")
    print("Headroom = MB - largest RSS peak of the processes above (the Lambda runtime, boto3 and")
    print("Powertools add roughly 60-100 MB more there).")
    print(f"{'memory MB':>9} {'vCPU':>5} " + " ".join(f"{r['file'][:22]:>22}" for r in results)
          + f" {'headroom MB':>11}")
    worst_rss = max(r["rss_peak_mb"] for r in results)
    for size in LAMBDA_SIZES_MB:
        factor = max(1.0, FULL_VCPU_MB / size)
        cells = " ".join(f"{r['cpu_s'] * factor:>20.3f} s" for r in results)
        print(f"{size:>9} {min(1.0, size / FULL_VCPU_MB):>5.2f} {cells} {size - worst_rss:>11.0f}")
    phone = results[0]
    print(f"photo: seconds={phone['cpu_s']:.3f} peak_mb={phone['rss_delta_mb']:.1f}")


def main(argv: list[str]) -> None:
    """``--measure FILE`` (internal: one measurement, JSON on stdout) or ``[PHOTOS_DIR]``."""
    if argv[:1] == ["--measure"]:
        print(json.dumps(measure(Path(argv[1]))))
        return
    photos = Path(argv[0]) if argv else DEFAULT_PHOTOS
    if not photos.is_dir():
        sys.exit(f"not a directory: {photos}")
    _report([_in_fresh_processes(p) for p in _pick(photos)])


if __name__ == "__main__":
    main(sys.argv[1:])
