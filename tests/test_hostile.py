"""Hostile and broken input never costs more than one clear line: each command in a fresh process, its
exit status, its one-line message, its peak memory and its time measured (issue: hostile input).

Every hostile file here is made by the small generators below (synthetic bytes, for the tests only).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import idx_bytes, write_idx_folder
from lenetlab import LenetlabError, load_checkpoint
from lenetlab.checkpoint import CHECKPOINT_FORMAT
from lenetlab.models import MLP

MAX_RSS_MB = 1024  # a hostile file of under 5 MB never takes the process above 1 GB ...
MAX_SECONDS = 5.0  # ... and is refused within 5 s of CPU (a fresh process importing PyTorch spends about 2 of them)


# The command runs under this wrapper, which records the process's own peak memory (VmHWM) as it
# exits. The rusage of a child is no use here: Linux counts in it the memory of the forked test
# process before the exec, which is the whole pytest session.
_MEASURED = """
import atexit, re, sys
from pathlib import Path
def _record():
    peak = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)
    Path(sys.argv[1]).write_text(peak)
atexit.register(_record)
from lenetlab.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run_lenetlab(*argv: object, cwd: Path | None = None) -> tuple[int, str, float, float]:
    """`lenetlab ARGV` in a fresh process: exit status, stderr, its peak resident MB, its CPU seconds.

    CPU seconds (user + system), not wall time: the bound is on the work done, whatever else the
    machine is doing meanwhile.
    """
    with tempfile.NamedTemporaryFile(suffix=".peak") as peak:
        proc = subprocess.Popen([sys.executable, "-c", _MEASURED, peak.name, *map(str, argv)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
        proc.stdout.read()
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss_mb = int(Path(peak.name).read_text() or 0) / 1024
    return proc.returncode, err, rss_mb, usage.ru_utime + usage.ru_stime


def assert_refused(result: tuple[int, str, float, float], fragment: str, *, seconds: float = MAX_SECONDS) -> None:
    code, err, rss, elapsed = result
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("lenetlab: error: ") and fragment in lines[0], lines[0]
    assert rss < MAX_RSS_MB, f"{rss:.0f} MB"
    assert elapsed < seconds, f"{elapsed:.1f} s of CPU"


# ---------------------------------------------------------------------------------------------
# Generators of hostile files
# ---------------------------------------------------------------------------------------------

def idx_header(dims: tuple[int, ...]) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


def gzip_bomb(dims: tuple[int, ...], zeros: int) -> bytes:
    """A gzip of an IDX header declaring ``dims`` followed by ``zeros`` zero bytes (compresses ~1000:1)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    parts = [compressor.compress(idx_header(dims))]
    block = bytes(1 << 20)
    for _ in range(zeros >> 20):
        parts.append(compressor.compress(block))
    parts.append(compressor.flush())
    return b"".join(parts)


def hostile_data_folders(root: Path) -> dict[str, tuple[Path, str]]:
    """Folders of the four IDX files, one file in each made hostile: name -> (folder, expected message)."""
    cases = {
        # 1 MB of gzip declaring 4 billion images of 28x28, then 1 GB of zeros: refused from the header alone
        "absurd shape": ("train-images-idx3-ubyte.gz", gzip_bomb((4_000_000_000, 28, 28), 1 << 30), "absurd shape"),
        # a plausible header (190 M pixels) and far too little behind it
        "short body": ("train-images-idx3-ubyte.gz", gzip_bomb((242_000, 28, 28), 1 << 20), "truncated"),
        "corrupt deflate": ("t10k-images-idx3-ubyte.gz",
                            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + os.urandom(2000), "damaged gzip"),
        "gzip cut short": ("t10k-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(np.zeros(20, np.uint8)))[:-12],
                           "damaged gzip"),
        "no train images": ("train-images-idx3-ubyte.gz", gzip.compress(idx_header((0, 28, 28))), "differ in count"),
        "no test images": (None, None, "hold no images"),
        # under the element cap, but 200 million images of 1x1: labels and shuffles once took 8.7 GB
        "millions of tiny images": ("train-images-idx3-ubyte.gz", gzip_bomb((199_999_999, 1, 1), 1 << 20),
                                    "199,999,999 items"),
    }
    out = {}
    for name, (filename, payload, message) in cases.items():
        folder = write_idx_folder(root / name.replace(" ", "-"))
        if filename is not None:
            (folder / filename).write_bytes(payload)
        else:
            (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_header((0, 28, 28))))
            (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_header((0,))))
        out[name] = (folder, message)
    return out


def hostile_checkpoints(root: Path) -> dict[str, tuple[Path, str]]:
    """Checkpoints that load as weights only but lie about what they hold: name -> (file, expected message)."""
    good = {"format": CHECKPOINT_FORMAT, "model": "mlp", "model_args": dict(MLP().config), "class_names": list("0123456789"),
            "state_dict": MLP().state_dict()}
    nan_weights = {k: torch.full_like(v, float("nan")) for k, v in good["state_dict"].items()}
    cases = {
        "model_args a list": ({"model_args": [1, 2]}, "'model_args' is not a mapping"),
        "no model": ({"model": None}, "'model' is not a model name"),
        "no state_dict": ({"state_dict": None}, "'state_dict' is not a mapping of tensors"),
        "state_dict a list": ({"state_dict": [torch.zeros(3)]}, "'state_dict' is not a mapping of tensors"),
        "class_names an int": ({"class_names": 7}, "'class_names' is not a list"),
        # 250 KB on disk asking for a 2-billion-parameter MLP: refused before anything is allocated
        "a 2 GB MLP": ({"model_args": {**good["model_args"], "hidden_1": 2_000_000}}, "would have 1,"),
        "wrong argument type": ({"model_args": {**good["model_args"], "hidden_1": "many"}},
                                "hidden_1 must be a whole number"),
        "unknown model": ({"model": "resnet152"}, "unknown model 'resnet152'"),
        "NaN weights": ({"state_dict": nan_weights}, "NaN or infinite weights"),
        # valid shapes, but a 30,000 x 30,000 confusion matrix (> 14 GB) once waited behind them
        "30,000 classes": ({"model": "lenet5", "model_args": {"f6_units": 1, "n_classes": 30_000}},
                           "1 to 1000 classes"),
        "100,000 layers": ({"model": "fcnet", "model_args": {"hidden": [1] * 100_000}}, "at most 64"),
    }
    out = {}
    for name, (change, message) in cases.items():
        path = root / (name.replace(" ", "-") + ".pt")
        torch.save({**good, **change}, path)
        out[name] = (path, message)
    return out


def png(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data_folders(tmp_path_factory):
    return hostile_data_folders(tmp_path_factory.mktemp("hostile-data"))


@pytest.mark.parametrize("name", ["absurd shape", "short body", "corrupt deflate", "gzip cut short", "no train images",
                                  "no test images", "millions of tiny images"])
def test_hostile_data_file_is_refused_cheaply(data_folders, name, tmp_path):
    folder, message = data_folders[name]
    assert sum(f.stat().st_size for f in folder.iterdir()) < 5 << 20
    assert_refused(run_lenetlab("train", "--data-dir", folder, "--out", tmp_path / "run", "--epochs", "1"), message)
    assert not (tmp_path / "run").exists()  # nothing written


def test_256_classes_train_and_draw_within_bounds(tmp_path):
    """A labels file of 255s makes a 256-class data set: it trains, and its figures stay small and quick."""
    folder = write_idx_folder(tmp_path / "data", n_train=300, n_test=100)
    labels = np.full(300, 255, np.uint8)
    labels[:10] = np.arange(10)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    code, err, rss, elapsed = run_lenetlab("train", "--data-dir", folder, "--out", tmp_path / "run", "--epochs", "1",
                                           "--model", "linear", "--no-progress")
    assert code == 0, err
    assert rss < MAX_RSS_MB and elapsed < 60  # CPU seconds: 256 classes drawn without blowing up
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(metrics["test"]["confusion_matrix"]) == 256
    assert Image.open(tmp_path / "run" / "confusion_matrix.png").size[0] < 2000


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return hostile_checkpoints(tmp_path_factory.mktemp("hostile-checkpoints"))


@pytest.mark.parametrize("name", ["model_args a list", "no model", "no state_dict", "state_dict a list",
                                  "class_names an int", "wrong argument type", "unknown model", "NaN weights"])
def test_hostile_checkpoint_is_one_line_in_process(checkpoints, name):
    path, message = checkpoints[name]
    with pytest.raises(LenetlabError, match=message):
        load_checkpoint(path)


def test_checkpoint_asking_for_gigabytes_is_refused_before_allocating(checkpoints, tmp_path):
    path, message = checkpoints["a 2 GB MLP"]
    assert path.stat().st_size < 5 << 20
    Image.new("L", (28, 28), 0).save(tmp_path / "digit.png")
    for argv in (("evaluate", path), ("predict", path, tmp_path / "digit.png"), ("serve", path, "--port", "0")):
        assert_refused(run_lenetlab(*argv), message)


@pytest.mark.parametrize("name", ["30,000 classes", "100,000 layers"])
def test_checkpoint_asking_for_absurd_sizes_is_refused_in_a_child_under_1gb(checkpoints, name):
    path, message = checkpoints[name]
    assert path.stat().st_size < 5 << 20
    assert_refused(run_lenetlab("evaluate", path), message)


def test_checkpoint_with_a_compressed_entry_is_refused_before_it_expands(tmp_path):
    """A valid checkpoint plus one DEFLATE entry of 512 MB of zeros (a 0.5 MB file): read from the zip's directory."""
    import zipfile

    path = tmp_path / "bomb.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": "mlp", "model_args": dict(MLP().config),
                "class_names": list("0123456789"), "state_dict": MLP().state_dict()}, path)
    prefix = zipfile.ZipFile(path).namelist()[0].split("/")[0]
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open(f"{prefix}/data/999", "w", force_zip64=True) as entry:
        block = bytes(1 << 20)
        for _ in range(512):
            entry.write(block)
    assert path.stat().st_size < 5 << 20
    assert_refused(run_lenetlab("evaluate", path), "compressed entry")


def test_nan_checkpoint_is_not_served(checkpoints):
    pytest.importorskip("fastapi")
    from lenetlab.web.app import create_app

    with pytest.raises(LenetlabError, match="NaN or infinite weights"):
        create_app(checkpoints["NaN weights"][0])


def test_hostile_images_are_refused_from_their_header(trained_run, tmp_path):
    bomb = tmp_path / "bomb.png"  # 64 megapixels of one colour: a small file, 64 MB once decoded
    bomb.write_bytes(png(Image.new("L", (8000, 8000), 255)))
    assert bomb.stat().st_size < 5 << 20
    assert_refused(run_lenetlab("predict", trained_run, bomb), "8000x8000 pixels, over 40 megapixels")
    tiff = tmp_path / "digit.tif"  # a container lenetlab does not open (Pillow decodes some on open)
    Image.new("L", (28, 28), 0).save(tiff)
    assert_refused(run_lenetlab("predict", trained_run, tiff), "cannot read")


@pytest.fixture
def run_copy(trained_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy, ignore=shutil.ignore_patterns("report.html"))
    return copy


DAMAGED_RUN_FILES = {
    "metrics a list": ("metrics.json", "[1, 2, 3]", "the file is not an object"),
    "test a string": ("metrics.json", lambda m: {**m, "test": "great"}, "test is not an object"),
    "ragged confusion matrix": ("metrics.json", lambda m: {**m, "test": {**m["test"], "confusion_matrix":
                                                                         m["test"]["confusion_matrix"][:-1]}},
                                "confusion_matrix is not 10x10"),
    "accuracy not a number": ("metrics.json", lambda m: {**m, "test": {**m["test"], "accuracy": "high"}},
                              "test.accuracy is not a number"),
    "deeply nested": ("metrics.json", "[" * 100_000 + "]" * 100_000, "not valid JSON"),
    "config a list": ("config.json", "[]", "the file is not an object"),
    "train settings wrong": ("config.json", lambda c: {**c, "train": {**c["train"], "epochs": "many"}},
                             "--epochs must be a whole number"),
    "unknown setting": ("config.json", lambda c: {**c, "train": {**c["train"], "warp_speed": 9}},
                        "unknown settings warp_speed"),
    "class names not a list": ("config.json", lambda c: {**c, "data": {**c["data"], "class_names": 7}},
                               "data.class_names is not a list"),
}


def _damage(run: Path, name: str) -> str:
    filename, change, message = DAMAGED_RUN_FILES[name]
    path = run / filename
    text = change if isinstance(change, str) else json.dumps(change(json.loads(path.read_text())))
    path.write_text(text)
    return message


@pytest.mark.parametrize("name", list(DAMAGED_RUN_FILES))
def test_damaged_run_files_are_one_line_for_report(run_copy, name, capsys):
    from lenetlab.cli import main

    message = _damage(run_copy, name)
    before = sorted(p.name for p in run_copy.iterdir())
    assert main(["report", str(run_copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(run_copy) in err, err
    assert sorted(p.name for p in run_copy.iterdir()) == before  # nothing written


@pytest.mark.parametrize("name", ["ragged confusion matrix", "deeply nested", "config a list", "unknown setting"])
def test_damaged_run_files_are_one_line_for_serve_and_resume(run_copy, name, capsys):
    pytest.importorskip("fastapi")
    from lenetlab.cli import main

    message = _damage(run_copy, name)
    assert main(["serve", str(run_copy), "--port", "0"]) == 2
    assert message in capsys.readouterr().err
    if DAMAGED_RUN_FILES[name][0] == "config.json":
        assert main(["train", "--resume", str(run_copy)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err


def test_evaluate_uses_the_data_the_run_was_trained_on(tmp_path, capsys):
    from lenetlab.cli import main

    folder = write_idx_folder(tmp_path / "letters", n_train=120, n_test=40, n_classes=3)
    assert main(["train", "--data-dir", str(folder), "--model", "linear", "--epochs", "1", "--out",
                 str(tmp_path / "run"), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert sum(map(sum, json.loads(out)["confusion_matrix"])) == 40  # its 40 test images, not MNIST's 10,000
    assert str(folder.resolve()) in err


def test_arguments_are_checked_before_anything_is_rewritten(tmp_path, capsys):
    from lenetlab.cli import main

    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.csv").write_text("an earlier table\n")
    cases = [
        (["paper", "--epochs", "0", "--out", str(tmp_path / "paper")], "--epochs must be at least 1"),
        (["explore", "compare", "--epochs", "0", "--out", str(tmp_path / "compare")], "--epochs must be at least 1"),
        (["explore", "compare", "--preset", "foo", "--out", str(tmp_path / "compare")], "unknown preset 'foo'"),
        (["explore", "sweep", "--vary", "kernel_size=3,5", "--epochs", "0", "--out", str(out)], "--epochs must be"),
        (["explore", "sweep", "--vary", "kernel_size=a,b", "--out", str(out)], "kernel_size must be a whole number"),
    ]
    for argv, fragment in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fragment in err, err
    assert (out / "sweep.csv").read_text() == "an earlier table\n"
    assert not (tmp_path / "paper").exists() and not (tmp_path / "compare").exists()


def test_filters_with_a_wrong_epoch_write_nothing(run_copy, capsys):
    from lenetlab.cli import main

    assert main(["explore", "filters", str(run_copy), "--epochs", "99"]) == 2
    assert "kept no filters, so --epochs has nothing to show" in capsys.readouterr().err
    assert not (run_copy / "explore").exists()
    (run_copy / "filters").mkdir()
    torch.save({"epoch": 1, "C1": torch.zeros(6, 1, 5, 5)}, run_copy / "filters" / "epoch_001.pt")
    assert main(["explore", "filters", str(run_copy), "--epochs", "99"]) == 2
    assert "no filters for epoch(s) [99]; choose among [1]" in capsys.readouterr().err
    assert not (run_copy / "explore").exists()


# ---------------------------------------------------------------------------------------------
# Runs: one writer at a time, nothing half-written left, every file readable alike
# ---------------------------------------------------------------------------------------------

def _tiny_train(folder: Path, out: Path, *extra: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lenetlab", "train", "--data-dir", folder, "--model", "linear",
                             "--out", out, "--no-progress", "--threads", "1", *map(str, extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.long  # heavy end-to-end (over 10 s): CI runs it right after the README's command
def test_two_trainings_into_one_folder_never_both_succeed(tmp_path):
    folder = write_idx_folder(tmp_path / "data", n_train=200, n_test=50)
    for attempt in range(3):
        out = tmp_path / f"run{attempt}"
        first, second = _tiny_train(folder, out, "--epochs", "3"), _tiny_train(folder, out, "--epochs", "3")
        results = [(p.wait(60), p.stderr.read()) for p in (first, second)]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 2], results
        refused = next(err for code, err in results if code == 2)
        assert ("in use by another lenetlab train" in refused or "already holds a run" in refused), refused
        assert json.loads((out / "metrics.json").read_text())["epochs"][-1]["epoch"] == 3


def test_resume_while_the_run_trains_is_refused(tmp_path):
    out = tmp_path / "run"
    training = subprocess.Popen([sys.executable, "-m", "lenetlab", "train", "--model", "linear", "--epochs", "40",
                                 "--out", str(out), "--no-progress", "--threads", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (out / "last.pt").exists() and training.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert training.poll() is None, training.stderr.read()
        assert_refused(run_lenetlab("train", "--resume", out), "in use by another lenetlab train")
    finally:
        training.terminate()
        training.wait(60)
    assert training.returncode == 143  # SIGTERM: stopped cleanly, resumable


def test_resume_finishes_what_a_kill_left_and_removes_temporary_files(tmp_path, capsys):
    from lenetlab.cli import main

    folder = write_idx_folder(tmp_path / "data", n_train=200, n_test=50)
    run = tmp_path / "run"
    assert main(["train", "--data-dir", str(folder), "--model", "linear", "--epochs", "2", "--out", str(run),
                 "--no-progress"]) == 0
    complete = {p.name for p in run.iterdir()}
    # as if killed after the last epoch's checkpoints, before figures, report and metrics.json were written
    for name in ("metrics.json", "report.html", "loss_curves.png", "confusion_matrix.png"):
        (run / name).unlink()
    (run / ".best.pt.x1y2z3.tmp").write_bytes(b"half a checkpoint")
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    assert {p.name for p in run.iterdir()} == complete
    modes = {p.name: p.stat().st_mode & 0o777 for p in run.iterdir() if p.is_file() and p.name != ".lock"}
    assert len(set(modes.values())) == 1, modes  # checkpoints are as readable as every other file
    assert main(["train", "--resume", str(run)]) == 2
    assert "already finished all 2 epochs" in capsys.readouterr().err


@pytest.mark.long  # heavy end-to-end (over 10 s): CI runs it right after the README's command
@pytest.mark.slow  # 64 clients for 20 s against a real server process
def test_web_server_under_load_stays_small_and_drops_stalled_clients(trained_run):
    """scripts/web_load_test.py's numbers (the README quotes its timings): memory and behaviour asserted here."""
    import importlib.util

    pytest.importorskip("uvicorn")
    spec = importlib.util.spec_from_file_location("web_load_test", Path(__file__).parents[1] / "scripts" /
                                                  "web_load_test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.load_test(str(trained_run), clients=64, seconds=20, slow=40)
    assert result["server_peak_rss_mb"] < MAX_RSS_MB
    assert result["normal_requests"] > 0 and result["normal_ok"] == result["normal_requests"]  # never refused
    # 200, 503 (busy, come back), or the connection closed by the server while the photo was still being sent
    assert set(result["large_by_status"]) <= {"200", "503", module.DROPPED}
    for kind in ("slow_heads", "slow_bodies"):  # every stalled client was dropped by the server
        assert result[kind]["dropped"] == result[kind]["count"] == 20



def test_more_mistakes_that_used_to_print_tracebacks(trained_run, run_copy, tmp_path, capsys):
    from lenetlab.cli import main

    # a 28x28 checkpoint evaluated on 32x32 images
    folder = tmp_path / "big-images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for stem, array in (("train-images-idx3-ubyte", rng.integers(0, 255, (20, 32, 32), dtype=np.uint8)),
                        ("train-labels-idx1-ubyte", np.arange(20, dtype=np.uint8) % 10),
                        ("t10k-images-idx3-ubyte", rng.integers(0, 255, (10, 32, 32), dtype=np.uint8)),
                        ("t10k-labels-idx1-ubyte", np.arange(10, dtype=np.uint8))):
        (folder / stem).write_bytes(idx_bytes(array))
    assert main(["evaluate", str(trained_run), "--data-dir", str(folder)]) == 2
    assert "expects 28x28 images but the data set holds 32x32" in capsys.readouterr().err
    # --host that is no address of this machine is not a busy port
    pytest.importorskip("uvicorn")
    assert main(["serve", str(trained_run), "--host", "192.0.2.1", "--port", "0"]) == 2
    assert "is not an address of this machine" in capsys.readouterr().err
    # a reader that leaves early: no traceback, no error
    piped = subprocess.run(f"{sys.executable} -m lenetlab evaluate {trained_run} --json | head -1", shell=True,
                           capture_output=True, text=True)
    assert piped.stdout.strip() == "{" and "Traceback" not in piped.stderr and "Error" not in piped.stderr


def test_a_run_whose_data_moved_answers_409_not_500(run_copy):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from lenetlab.web.app import create_app

    config = json.loads((run_copy / "config.json").read_text())
    config["train"]["data_dir"] = str(run_copy / "moved-away")
    (run_copy / "config.json").write_text(json.dumps(config))
    client = TestClient(create_app(run_copy), base_url="http://127.0.0.1:8000")
    response = client.get("/api/random")
    assert response.status_code == 409 and "moved-away" in response.json()["error"]
    assert str(run_copy.parent) not in response.json()["error"]  # no absolute path in any answer
    assert client.get("/api/model").status_code == 200


def test_force_replaces_a_whole_run_and_only_a_run(tmp_path, capsys):
    from lenetlab.cli import main

    folder = write_idx_folder(tmp_path / "data", n_train=120, n_test=40)
    run = tmp_path / "run"
    argv = ["train", "--data-dir", str(folder), "--model", "linear", "--epochs", "1", "--out", str(run), "--no-progress"]
    assert main(argv) == 0
    assert main(["explore", "params", "--out", str(run / "explore")]) == 0
    (run / "explore" / "my_notes.txt").write_text("the user's")
    assert main([*argv, "--force"]) == 0
    # the old explorations are gone (the new run's report cannot show them), the user's file is not
    assert [p.name for p in (run / "explore").iterdir()] == ["my_notes.txt"]
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.txt").write_text("not a run")
    capsys.readouterr()
    for extra in ([], ["--force"]):
        assert main(["train", "--data-dir", str(folder), "--out", str(other), *extra]) == 2
        err = capsys.readouterr().err
        assert ("holds no run" in err or "not a run" in err) and err.count("\n") == 1, err
    assert (other / "thesis.txt").read_text() == "not a run"


def test_a_blank_image_is_named_by_every_command(trained_run, tmp_path, capsys):
    from lenetlab.cli import main

    blank = tmp_path / "blank.png"
    Image.new("L", (60, 60), 255).save(blank)
    for argv in (["predict", str(trained_run), str(blank)],
                 ["explore", "feature-maps", str(trained_run), "--image", str(blank), "--out", str(tmp_path / "o")],
                 ["explore", "attribution", str(trained_run), "--image", str(blank), "--out", str(tmp_path / "o")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{blank}: the image holds no visible digit" in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()
