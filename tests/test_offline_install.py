"""The classroom install (issue #22): build the Linux kit, then install it and train with the network refused.

At home: ``scripts/classroom_kit.py`` builds lenetlab's wheel and the Linux wheelhouse (here the CPU torch
comes from this machine's disk, elsewhere from PyTorch's CPU index). In the classroom: a fresh virtual
environment, ``pip install --no-index --find-links WHEELHOUSE "lenetlab[student]"`` with every network route
made to fail loudly (PIP_NO_INDEX, no pip configuration, proxies pointed at a closed local port), then
``lenetlab train --epochs 1`` on a tiny data folder, JupyterLab and the kernel, ``lenetlab.td`` where it
exists, and a build of lenetlab from source with only the wheelhouse (its setuptools wheel).

Slow: about 3 to 4 minutes on 2 cores (the kit ~75 s, the offline install ~80 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_idx_folder

ROOT = Path(__file__).resolve().parents[1]
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens, every connection is refused at once


def offline_env() -> dict[str, str]:
    """This environment with every way to the network closed, and no pip setting of this machine."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PIP_", "VIRTUAL_ENV"))
           and k.upper() not in ("NO_PROXY", "PYTHONPATH")}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PIP_RETRIES": "0", "PIP_TIMEOUT": "5", "OMP_NUM_THREADS": "1"})
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = CLOSED
    return env


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
@pytest.mark.long  # builds a wheelhouse and a venv, about 2.5 minutes: CI runs it after the README's test command
def test_classroom_kit_installs_and_trains_offline(tmp_path):
    timings = {}
    t = time.perf_counter()
    kit = tmp_path / "kit"
    run([sys.executable, str(ROOT / "scripts" / "classroom_kit.py"), "--out", str(kit)], cwd=tmp_path, timeout=600)
    timings["kit"] = time.perf_counter() - t
    wheelhouse = kit / "wheelhouse-linux-x86_64"
    names = sorted(p.name for p in wheelhouse.glob("*.whl"))
    assert any(n.startswith("torch-") and "+cpu" in n for n in names), names  # the CPU build, not PyPI's CUDA one
    assert not any(n.startswith("nvidia") for n in names), names
    assert any(n.startswith("setuptools-") for n in names) and any(n.startswith("lenetlab-") for n in names)
    readme = (wheelhouse / "README.txt").read_text(encoding="utf-8")
    assert '--no-index --find-links WHEELHOUSE "lenetlab[student]"' in readme and "$env:OMP_NUM_THREADS" in readme
    assert json.loads((kit / "kit.json").read_text())["platforms"]["linux-x86_64"]["wheels"] == len(names)

    # The classroom: no network at all.
    env = offline_env()
    venv = tmp_path / "eleve"
    run([sys.executable, "-m", "venv", str(venv)], env=env)
    python = str(venv / "bin" / "python")
    t = time.perf_counter()
    run([python, "-m", "pip", "install", "--no-index", "--find-links", str(wheelhouse), "lenetlab[student]"],
        env=env, timeout=600)
    timings["install"] = time.perf_counter() - t

    data = write_idx_folder(tmp_path / "data", n_train=300, n_test=50)
    run([str(venv / "bin" / "lenetlab"), "train", "--epochs", "1", "--data-dir", str(data), "--out",
         str(tmp_path / "run"), "--no-progress", "--threads", "1"], env=env, cwd=tmp_path, timeout=300)
    assert (tmp_path / "run" / "metrics.json").exists()
    run([python, "-c", "import ipykernel, jupyterlab, torch; assert torch.__version__.endswith('+cpu')"], env=env)
    run([str(venv / "bin" / "jupyter"), "lab", "--version"], env=env)

    # The TD's checks and their words (i18n/fr.td.json) came with the wheel.
    said = run([python, "-c", "from lenetlab import td; print(td.check_conv_output_size(lambda n, k, s=1, p=0: 0))"],
               env=env).stdout
    assert "conv_output_size" in said and "❌" in said, said

    # Building lenetlab from source offline too: the build's setuptools comes from the wheelhouse.
    t = time.perf_counter()
    run([python, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-index", "--find-links", str(wheelhouse),
         "--wheel-dir", str(tmp_path / "built")], env=env, timeout=300)
    timings["build_from_source"] = time.perf_counter() - t
    assert list((tmp_path / "built").glob("lenetlab-*.whl"))
    print("timings (s):", {k: round(v, 1) for k, v in timings.items()})
