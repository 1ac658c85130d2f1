"""The machine a number was measured on: CPU name, how busy it was, the library versions and source.

Every timing and every run records these (bench, speedrun, explore attack, a run's config.json), so a
number can be read with the conditions that produced it. One module, below everything that measures.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from . import __version__


def cpu_name() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_load() -> dict[str, Any]:
    """How busy the machine is: the 1-minute load average against the number of cores (0 on Windows)."""
    import torch

    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return {"load_1min": round(load, 2), "cores": cores, "torch_threads": torch.get_num_threads()}


def busy_warning(load: dict[str, Any]) -> str | None:
    """A warning when other work already keeps the cores busy (CPU timings then come out slower).

    Examples
    --------
    >>> busy_warning({"load_1min": 0.3, "cores": 2, "torch_threads": 2}) is None
    True
    """
    if load["load_1min"] >= max(1.0, load["cores"] - 0.5):
        return (f"the machine is busy (load {load['load_1min']} on {load['cores']} cores): CPU timings will be slower "
                "than on an idle machine; the result records the load. On a shared machine, one thread "
                "(OMP_NUM_THREADS=1) often beats two fighting for the same cores")
    return None


def library_versions() -> dict[str, str]:
    """The versions a run was made with, and which lenetlab source exactly (git commit, source hash)."""
    import matplotlib
    import numpy as np
    import PIL
    import torch

    return {
        "lenetlab": __version__,
        **source_fingerprint(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
        "pillow": PIL.__version__,
        "platform": platform.platform(),
    }


def source_fingerprint() -> dict[str, str]:
    """sha256 of the package's source files, and the git commit when lenetlab runs from a checkout.

    The hash alone identifies the code behind a run wherever it was installed from; the commit
    (with ``+dirty`` when files differ from it) says where to find that code.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".html", ".css", ".js", ".json") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    out = {"source_sha256": digest.hexdigest()}

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=package, capture_output=True, text=True, timeout=5,
                              check=True).stdout.strip()

    try:
        out["git_commit"] = git("rev-parse", "HEAD") + ("+dirty" if git("status", "--porcelain", "--", ".") else "")
    except (OSError, subprocess.SubprocessError):
        pass  # not a git checkout (an installed wheel), or no git: the hash says it all
    return out
