"""Windows and macOS: the commands a student runs import no POSIX-only module on their way.

Windows has no ``resource`` and no ``fcntl`` (and no ``os.getloadavg``). Each command below runs in a fresh
interpreter where importing those two modules fails, as it does on Windows, and ``os.getloadavg`` is gone:
``train``, ``bench``, ``speedrun`` and ``explore attack`` must still work, at tiny sizes (a 600-image IDX
folder, one epoch). This runs on Linux; it is not a Windows test, only the closest one Linux allows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import write_idx_folder

# The driver: block the POSIX-only modules, then run `lenetlab ARGS...`. `bench` and `speedrun` always read the
# bundled MNIST; here `load_mnist()` without a folder reads the tiny one instead, so that they take seconds.
DRIVER = textwrap.dedent("""
    import os
    import sys

    for name in ("resource", "fcntl"):
        sys.modules[name] = None  # `import resource` now raises ImportError, as on Windows
    if hasattr(os, "getloadavg"):
        del os.getloadavg  # Windows has none either

    import lenetlab.data

    _load, _tiny = lenetlab.data.load_mnist, os.environ["LENETLAB_TINY_DATA"]
    lenetlab.data.load_mnist = lambda data_dir=None, *a, **k: _load(data_dir or _tiny, *a, **k)

    from lenetlab.cli import main

    sys.exit(main(sys.argv[1:]))
""")


@pytest.fixture(scope="module")
def windowsish(tmp_path_factory):
    """Run ``lenetlab ARGS...`` in a fresh interpreter without ``resource`` and ``fcntl``."""
    root = tmp_path_factory.mktemp("windowsish")
    driver = root / "driver.py"
    driver.write_text(DRIVER)
    data = write_idx_folder(root / "data", n_train=600, n_test=100)
    env = {**os.environ, "LENETLAB_TINY_DATA": str(data), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, str(driver), *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=300)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    run.root, run.data = root, data
    return run


def test_the_blocker_blocks(windowsish):
    """The driver really makes the two modules unimportable (else the tests below prove nothing)."""
    probe = windowsish.root / "probe.py"
    probe.write_text(DRIVER.split("import lenetlab.data")[0] + textwrap.dedent("""
        for name in ("resource", "fcntl"):
            try:
                __import__(name)
            except ImportError:
                print(name, "blocked")
        print("getloadavg", hasattr(os, "getloadavg"))
    """))
    out = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:3] == ["resource blocked", "fcntl blocked", "getloadavg False"]


@pytest.mark.long  # heavy end-to-end (over 10 s): CI runs it right after the README's command
def test_train_bench_speedrun_and_attack_without_posix_modules(windowsish):
    run_dir = windowsish.root / "run"
    done = windowsish("train", "--epochs", "1", "--data-dir", str(windowsish.data), "--out", str(run_dir),
                      "--no-progress", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert (run_dir / "best.pt").exists() or any(run_dir.glob("*.pt")), sorted(p.name for p in run_dir.iterdir())

    done = windowsish("bench", "--epochs", "1", "--batch-size", "64", "--no-notebook", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["settings"]["train_images"] == 480  # the tiny folder, not the bundled 48,000
    assert result["memory"]["peak_rss_mb"] is None  # unknown without `resource`: said so, not a crash
    assert result["machine"]["load"]["load_1min"] == 0.0

    from lenetlab.bench import format_report

    assert "peak resident unknown on this system" in format_report(result)

    out = windowsish.root / "speedrun.json"
    done = windowsish("speedrun", "--device", "cpu", "--seeds", "1", "--epochs", "1", "--batch-size", "64",
                      "--threads", "1", "--target", "0.01", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["summary"]["seeds"] == 1

    done = windowsish("explore", "attack", str(run_dir), "--n", "100", "--method", "fgsm",
                      "--out", str(windowsish.root / "attack"))
    assert done.returncode == 0, done.stderr
    assert (windowsish.root / "attack" / "attack.json").exists()


def test_bench_module_imports_no_posix_module_at_import_time():
    """The source itself: no module-level `import resource` / `import fcntl` anywhere in the package."""
    src = Path(__file__).resolve().parents[1] / "src" / "lenetlab"
    offenders = []
    for path in src.rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith(("import resource", "import fcntl", "from resource", "from fcntl",
                                "import pwd", "import grp", "import termios")):
                offenders.append(f"{path.relative_to(src)}:{number}: {line}")
    assert not offenders, offenders
