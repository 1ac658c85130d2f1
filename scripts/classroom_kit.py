"""Build a classroom install kit: lenetlab's wheel and every wheel a student needs, for an install with no network.

At home, with the network, the teacher runs (from the repository root)::

    python scripts/classroom_kit.py --platform windows-x86_64 --platform macos-arm64 --platform linux-x86_64

and copies the folder it writes (default ``classroom-kit/``) onto a USB stick. In the classroom each student
creates a virtual environment and installs from the stick with ``--no-index``: no network at all. Each
platform folder has a README.txt with the commands for bash, PowerShell and cmd.

What it does:

1. builds lenetlab's wheel (the bundled MNIST inside) with ``pip wheel --no-deps``: without build isolation
   when this Python already has setuptools >= 77 (then the build needs no network), with it otherwise;
2. resolves ``lenetlab[EXTRA]`` (default extra: ``student``) and ``torch`` once on this machine, for the
   versions to use;
3. for each platform and Python version, downloads those exact versions with
   ``pip download --no-deps --only-binary=:all: --platform ... --python-version ...``, reading each downloaded
   wheel's own dependencies and evaluating their markers *for the target* (pip evaluates markers for the
   machine it runs on, so a plain ``pip download --platform win_amd64`` of torch asks for Linux's CUDA
   packages, and misses Windows' own such as ``colorama`` or ``pywinpty``);
4. adds a setuptools wheel (so that building lenetlab from source works offline too), a SHA256SUMS and a
   README.txt per platform, and prints each platform folder's size.

torch: on Linux the CPU build ``torch==VERSION+cpu`` from PyTorch's CPU index (PyPI's Linux torch is the
CUDA build, several GB with its nvidia packages); on Windows and macOS PyPI's torch is already the CPU build
(macOS: Apple-silicon wheels, tagged for macOS >= 14 from torch 2.12 on; PyPI has no Intel-Mac torch after
2.2.2, so there is no macos-x86_64 platform here).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
SETUPTOOLS = "setuptools>=77"  # what [build-system] requires: 77 reads `license = "MIT"` (PEP 639)


@dataclass(frozen=True)
class Target:
    """A platform a student's laptop may be: pip's platform tags and the marker values it has."""

    tags: tuple[str, ...]
    os_name: str
    sys_platform: str
    platform_system: str
    platform_machine: str
    torch_local: str = ""  # "+cpu" on Linux: PyTorch's CPU build
    torch_index: str | None = None
    notes: list[str] = field(default_factory=list)

    def environment(self, python_version: str) -> dict[str, str]:
        return {"os_name": self.os_name, "sys_platform": self.sys_platform, "platform_system": self.platform_system,
                "platform_machine": self.platform_machine, "platform_release": "", "platform_version": "",
                "python_version": python_version, "python_full_version": f"{python_version}.0",
                "implementation_name": "cpython", "implementation_version": f"{python_version}.0",
                "platform_python_implementation": "CPython"}


PLATFORMS = {
    "linux-x86_64": Target(("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
                           "posix", "linux", "Linux", "x86_64", torch_local="+cpu", torch_index=TORCH_CPU_INDEX,
                           notes=["Linux x86_64 with glibc >= 2.28 (Debian 10+, Ubuntu 18.10+, Fedora 29+)."]),
    "windows-x86_64": Target(("win_amd64",), "nt", "win32", "Windows", "AMD64",
                             notes=["Windows 10 or 11, 64-bit, with Python from python.org (64-bit)."]),
    "macos-arm64": Target(("macosx_14_0_arm64",), "posix", "darwin", "Darwin", "arm64",
                          notes=["macOS 14 (Sonoma) or later on Apple silicon (M1 and later): torch >= 2.12 "
                                 "ships no wheel for older macOS."]),
}


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, **kwargs)


def pip(*args: str) -> list[str]:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]


def setuptools_version() -> Version | None:
    try:
        from importlib.metadata import version

        return Version(version("setuptools"))
    except Exception:
        return None


def build_wheel(out: Path, find_links: list[str]) -> Path:
    """lenetlab's wheel, built from the checkout; offline when this Python has setuptools >= 77."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("lenetlab-*.whl"):
        old.unlink()
    command = pip("wheel", str(ROOT), "--no-deps", "--wheel-dir", str(out), "--quiet")
    have = setuptools_version()
    if have is not None and have >= Version("77"):
        command.append("--no-build-isolation")  # the build uses this Python's setuptools: no download
    for link in find_links:
        command += ["--find-links", link]
    run(command)
    (wheel,) = out.glob("lenetlab-*.whl")
    with zipfile.ZipFile(wheel) as z:
        mnist = [n for n in z.namelist() if n.startswith("lenetlab/datasets/mnist/") and n.endswith(".gz")]
    if len(mnist) != 4:
        raise SystemExit(f"classroom_kit: {wheel.name} lacks the bundled MNIST (found {mnist})")
    return wheel


def resolve_pins(wheel: Path, extra: str, torch_version: str, python_version: str,
                 find_links: list[str]) -> dict[str, str]:
    """The version of every package ``lenetlab[extra]`` needs, resolved by pip on this machine.

    For ``python_version`` X.Y, pip takes it as X.Y.0: the pins then suit every X.Y a student may have
    (Debian 12's Python is 3.11.2, and some releases need 3.11.5).
    """
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = pip("install", "--dry-run", "--ignore-installed", "--quiet", "--only-binary=:all:",
                      "--python-version", python_version, "--target", str(Path(tmp) / "target"),
                      "--report", str(report), f"lenetlab[{extra}] @ {wheel.as_uri()}" if extra else str(wheel),
                      f"torch=={torch_version}", SETUPTOOLS)
        for link in find_links:
            command += ["--find-links", link]
        run(command)
        installs = json.loads(report.read_text())["install"]
    return {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in installs}


def wheel_requirements(path: Path) -> list[Requirement]:
    with zipfile.ZipFile(path) as z:
        (name,) = [n for n in z.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(z.read(name).decode("utf-8"))
    return [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]


def wheels_by_name(folder: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in folder.glob("*.whl"):
        found.setdefault(canonicalize_name(parse_wheel_filename(path.name)[0]), []).append(path)
    return found


def applies(requirement: Requirement, environment: dict[str, str], extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**environment, "extra": e}) for e in ({""} | extras))


def download_for(target_name: str, target: Target, python_version: str, wheel: Path, extra: str,
                 torch_version: str, pins: dict[str, str], wheelhouse: Path, find_links: list[str]) -> set[str]:
    """Every wheel ``lenetlab[extra]`` needs on one platform and Python version, into ``wheelhouse``.

    Breadth first: each round downloads the exact pinned versions of the names it reached, then reads their
    dependencies from the downloaded wheels, with markers evaluated for the target.
    """
    environment = target.environment(python_version)
    torch_spec = f"torch=={torch_version}{target.torch_local}"
    wanted: dict[str, set[str]] = {"lenetlab": {extra} if extra else set()}
    specs: dict[str, str] = {"lenetlab": ""}
    done: dict[str, set[str]] = {}
    queue = ["lenetlab", "torch", "setuptools"]
    specs["torch"], specs["setuptools"] = torch_spec, f"setuptools=={pins['setuptools']}"
    wanted.setdefault("torch", set())
    wanted.setdefault("setuptools", set())
    shutil.copy2(wheel, wheelhouse / wheel.name)
    while queue:
        fetch = sorted({n for n in queue if n != "lenetlab" and n not in done})
        if fetch:
            command = pip("download", "--no-deps", "--only-binary=:all:", "--dest", str(wheelhouse),
                          "--python-version", python_version, "--implementation", "cp", "--quiet")
            for tag in target.tags:
                command += ["--platform", tag]
            if target.torch_index and "torch" in fetch:
                command += ["--extra-index-url", target.torch_index]
            for link in find_links:
                command += ["--find-links", link]
            try:
                run(command + [specs[n] for n in fetch])
            except subprocess.CalledProcessError:
                raise SystemExit(f"classroom_kit: pip found no {target_name} wheel for Python {python_version} of "
                                 f"one of: {', '.join(specs[n] for n in fetch)} (see pip's message above). A pin "
                                 "comes from this machine's resolution: run this script with that Python version, "
                                 "or leave that version out") from None
        have = wheels_by_name(wheelhouse)
        next_queue: list[str] = []
        for name in queue:
            extras = wanted[name]
            if name in done and extras <= done[name]:
                continue
            done[name] = done.get(name, set()) | extras
            path = wheel if name == "lenetlab" else _matching(have.get(name, []), specs[name])
            for requirement in wheel_requirements(path):
                if not applies(requirement, environment, extras):
                    continue
                dep = canonicalize_name(requirement.name)
                wanted.setdefault(dep, set()).update(requirement.extras)
                if dep not in specs:
                    specs[dep] = f"{dep}=={pins[dep]}" if dep in pins else f"{dep}{requirement.specifier}"
                if dep not in done or not wanted[dep] <= done[dep]:
                    next_queue.append(dep)
        queue = next_queue
    return set(done)


def _matching(paths: list[Path], spec: str) -> Path:
    requirement = Requirement(spec)
    for path in sorted(paths, reverse=True):
        if requirement.specifier.contains(parse_wheel_filename(path.name)[1], prereleases=True):
            return path
    raise SystemExit(f"classroom_kit: {spec} was not downloaded")


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def write_sums(folder: Path) -> None:
    lines = []
    for path in sorted(folder.glob("*.whl")):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}")
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")


README = """\
lenetlab classroom kit: {platform}, Python {pythons}
{notes}
{count} wheels, {size}. Installed, a student's environment takes about 1.5 GB of disk (torch alone ~0.8 GB).
Everything installs with NO network: pip is told to use only this folder (--no-index).

Replace WHEELHOUSE below by this folder's path, for example D:\\{folder} (USB stick on Windows),
/Volumes/USB/{folder} (macOS) or /media/$USER/USB/{folder} (Linux). Copying the folder to the laptop
first makes the install faster than reading the stick 30 times at once.

bash or zsh (Linux, macOS Terminal)
    python3 -m venv ~/lenetlab-env
    source ~/lenetlab-env/bin/activate
    python -m pip install --no-index --find-links WHEELHOUSE "lenetlab[{extra}]"
    export OMP_NUM_THREADS=1            # optional, on a busy or small machine
    jupyter lab                         # or: lenetlab train --epochs 1 --threads 1

PowerShell (Windows)
    py -{python} -m venv $HOME\\lenetlab-env
    & $HOME\\lenetlab-env\\Scripts\\Activate.ps1
    python -m pip install --no-index --find-links WHEELHOUSE "lenetlab[{extra}]"
    $env:OMP_NUM_THREADS = 1            # optional
    jupyter lab
  (If PowerShell refuses to run Activate.ps1: Set-ExecutionPolicy -Scope CurrentUser RemoteSigned,
   or use cmd below.)

cmd (Windows)
    py -{python} -m venv %USERPROFILE%\\lenetlab-env
    %USERPROFILE%\\lenetlab-env\\Scripts\\activate.bat
    python -m pip install --no-index --find-links WHEELHOUSE "lenetlab[{extra}]"
    rem optional, on a busy or small machine (no space before the end of the line):
    set OMP_NUM_THREADS=1
    jupyter lab
  (cmd needs double quotes: '...' is not a quote there.)

Check: python -c "import lenetlab, torch; print(lenetlab.__version__, torch.__version__)"
The course notebook: `lenetlab td --out classe` writes it (--lang en for English), and the notebooks/
folder beside this one holds a copy; open it from Jupyter.
On Debian or Ubuntu, `python3 -m venv` needs the python3-venv package: install it before class (apt needs
the network).
SHA256SUMS lists each wheel's checksum. Built by scripts/classroom_kit.py.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS),
                        help="repeatable (default: linux-x86_64 only)")
    parser.add_argument("--python-version", action="append", metavar="X.Y",
                        help=f"students' Python, repeatable (default: this one, {sys.version_info[0]}.{sys.version_info[1]})")
    parser.add_argument("--extra", default="student", help="lenetlab's extra to install (default: student; '' for none)")
    parser.add_argument("--torch", default="2.13.0", help="torch version (default: 2.13.0)")
    parser.add_argument("--out", type=Path, default=Path("classroom-kit"), help="output folder (default: classroom-kit)")
    parser.add_argument("--find-links", action="append", default=[], metavar="DIR",
                        help="also look for wheels there (repeatable)")
    args = parser.parse_args(argv)
    platforms = args.platform or ["linux-x86_64"]
    pythons = args.python_version or [f"{sys.version_info[0]}.{sys.version_info[1]}"]

    args.out.mkdir(parents=True, exist_ok=True)
    if ROOT in args.out.resolve().parents or args.out.resolve() == ROOT:
        print(f"classroom_kit: note: {args.out} is inside the repository; it holds hundreds of MB of wheels: "
              "never commit it (--out elsewhere, or list it in .gitignore)", file=sys.stderr)
    wheel = build_wheel(args.out / "build", args.find_links)
    pins = {v: resolve_pins(wheel, args.extra, args.torch, v, args.find_links) for v in pythons}
    # The students' notebooks only (the énoncé), never the corrigé: a USB stick goes round the class.
    found = sorted((ROOT / "src" / "lenetlab" / "td" / "notebooks").glob("*enonce*.ipynb"))
    found = found or sorted((ROOT / "notebooks").glob("*.ipynb"))  # the layout before lenetlab.td
    if found:
        notebooks = args.out / "notebooks"
        notebooks.mkdir(exist_ok=True)
        for notebook in found:
            shutil.copy2(notebook, notebooks / notebook.name)

    summary = {}
    for name in platforms:
        target = PLATFORMS[name]
        wheelhouse = args.out / f"wheelhouse-{name}"
        if wheelhouse.exists():
            shutil.rmtree(wheelhouse)
        wheelhouse.mkdir()
        for python_version in pythons:
            download_for(name, target, python_version, wheel, args.extra, args.torch, pins[python_version], wheelhouse,
                         args.find_links)
        write_sums(wheelhouse)
        count, size = len(list(wheelhouse.glob("*.whl"))), folder_size(wheelhouse)
        (wheelhouse / "README.txt").write_text(README.format(
            platform=name, pythons=", ".join(pythons), python=pythons[0], notes="\n".join(target.notes),
            count=count, size=f"{size / 2**20:.0f} MiB", extra=args.extra, folder=wheelhouse.name), encoding="utf-8")
        summary[name] = {"wheels": count, "mib": round(size / 2**20, 1)}
        print(f"{wheelhouse}: {count} wheels, {size / 2**20:.0f} MiB", flush=True)
    (args.out / "kit.json").write_text(json.dumps({"pythons": pythons, "torch": args.torch, "extra": args.extra,
                                                   "platforms": summary}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
