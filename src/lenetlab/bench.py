"""``lenetlab bench``: how fast training and inference run here, against the hardware and the notebook.

Everything is measured in one invocation on the bundled data, so the ratios compare like with like:
- a matrix-product peak (fp32, and bf16 where the CPU or GPU has it) as the hardware's ceiling;
- one epoch (train 48,000 + validate 12,000 images) of the notebook's pipeline — a Dataset that
  builds one PIL image per sample and converts it, as torchvision's MNIST + ToTensor do;
- the same epoch with lenetlab's in-memory pipeline (the exact ``fit`` loop ``lenetlab train`` runs);
- inference throughput, achieved GFLOP/s, peak memory, and the machine and library versions.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .config import BENCH_DEFAULTS
from .data import load_mnist, to_input
from .engine import FastTrainer
from .explore.params import layer_table
from .i18n import localize_number_text, number, t
from .machine import busy_warning, cpu_name, machine_load
from .models import build_model
from .training import TrainConfig, fit, resolve_device


def plural(lang: str, key: str, n: float, shown: str | None = None) -> str:
    """``key_one`` or ``key_other`` of the catalogue with ``n`` (« 1 fil d'exécution », "2 threads").

    French takes the singular below 2 (« 0 cœur », « 1,5 époque »), English for 1 alone.

    >>> plural("en", "cli.threads", 1), plural("fr", "cli.threads", 1), plural("fr", "cli.cores", 2)
    ('1 thread', "1 fil d'exécution", '2 cœurs')
    """
    one = n < 2 if lang == "fr" else n == 1
    return t(lang, f"{key}_{'one' if one else 'other'}", n=shown if shown is not None else plain(n, lang))


def plain(value: object, lang: str) -> str:
    """A number as Python writes it (``2.7``, ``1200``), in ``lang``'s way (``2,7``)."""
    return localize_number_text(str(value), lang)


def busy_line(load: dict[str, Any], lang: str = "en") -> str | None:
    """:func:`~lenetlab.machine.busy_warning`'s warning (same rule), worded in ``lang`` by the catalogue."""
    if busy_warning(load) is None:
        return None
    return t(lang, "cli.busy", load=plain(load["load_1min"], lang), cores=plural(lang, "cli.cores", load["cores"]))


def fixed(value: float, lang: str, digits: int) -> str:
    """``value`` with ``digits`` decimals: ``f"{value:.2f}"`` in English, the decimal comma in French."""
    return f"{value:.{digits}f}" if lang == "en" else number(value, lang, digits)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype = torch.float32, size: int = 1024,
                seconds: float = 1.0) -> float:
    """GFLOP/s of a square matrix product, the best of repeated timings (the hardware's ceiling)."""
    if device.type == "cuda":
        size = 8192
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    for _ in range(3):
        torch.mm(a, b)
    _sync(device)
    best, spent = 0.0, 0.0
    while spent < seconds:
        t = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        _sync(device)
        dt = time.perf_counter() - t
        spent += dt
        best = max(best, 4 * 2 * size**3 / dt / 1e9)
    return best


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    capability = torch.backends.cpu.get_cpu_capability()
    return "AVX512" in capability or "AMX" in capability


class NotebookDataset(torch.utils.data.Dataset):
    """The notebook's data path: a PIL image per sample, converted by ToTensor's arithmetic."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images.numpy(), labels.numpy()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = Image.fromarray(self.images[i], mode="L")  # what torchvision.datasets.MNIST returns
        tensor = torch.from_numpy(np.array(image, dtype=np.uint8)).unsqueeze(0).float().div(255)  # ToTensor()
        return tensor, int(self.labels[i])


def notebook_epoch(model: torch.nn.Module, data: Any, batch_size: int, device: torch.device) -> dict[str, float]:
    """One epoch the notebook's way: DataLoader over per-sample PIL images, SGD 0.01, then validation."""
    from torch.utils.data import DataLoader

    train_loader = DataLoader(NotebookDataset(data.train.images, data.train.labels), batch_size=batch_size,
                              shuffle=True, generator=torch.Generator().manual_seed(0))
    valid_loader = DataLoader(NotebookDataset(data.valid.images, data.valid.labels), batch_size=batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    t0 = time.perf_counter()
    train_loss = 0.0
    for x, y in train_loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        train_loss += loss.item() * x.shape[0]
    _sync(device)
    t1 = time.perf_counter()
    model.eval()
    valid_loss = 0.0
    with torch.no_grad():
        for x, y in valid_loader:
            x, y = x.to(device), y.to(device)
            valid_loss += F.cross_entropy(model(x), y, reduction="sum").item()  # summed, not overwritten
    _sync(device)
    t2 = time.perf_counter()
    return {"train_seconds": t1 - t0, "valid_seconds": t2 - t1, "epoch_seconds": t2 - t0}


def inference_throughput(model: torch.nn.Module, images: torch.Tensor, device: torch.device,
                         batch_size: int = 500, repeats: int = 3) -> float:
    """Images per second through the model in inference mode (the best of ``repeats`` passes)."""
    model.eval()
    images = images.to(device)
    best = 0.0
    with torch.inference_mode():
        for _ in range(repeats + 1):
            _sync(device)
            t = time.perf_counter()
            for start in range(0, len(images), batch_size):
                model(to_input(images[start : start + batch_size]))
            _sync(device)
            best = max(best, len(images) / (time.perf_counter() - t))
    return best


def peak_rss_mb() -> float | None:
    """This process's peak resident memory in MB; ``None`` where it is unknown (Windows has no ``resource``)."""
    try:
        import resource  # POSIX only: imported here so that `bench` runs on Windows too
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux, bytes on macOS
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)


def peak_memory_mb(device: torch.device) -> dict[str, float | None]:
    out: dict[str, float | None] = {"peak_rss_mb": peak_rss_mb()}
    if device.type == "cuda":
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return out


def fast_path_epoch(model: torch.nn.Module, data: Any, config: Any, device: torch.device) -> dict[str, Any]:
    """The last of ``config.epochs`` epochs on :class:`~lenetlab.engine.FastTrainer` (on CUDA: one graph per step)."""
    start = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = FastTrainer(model, data.train, data.valid, config, device)
    trainer.reset(start, 0)
    for _ in range(config.epochs):
        trainer.sync()
        t0 = time.perf_counter()
        trainer.train_epoch()  # ends with a synchronisation (it reads the loss)
        t1 = time.perf_counter()
        accuracy = trainer.valid_accuracy()
        t2 = time.perf_counter()
    return {"train_seconds": round(t1 - t0, 4), "valid_seconds": round(t2 - t1, 4), "epoch_seconds": round(t2 - t0, 4),
            "train_images_per_s": round(trainer.steps_per_epoch * trainer.batch_size / (t1 - t0)),
            "cuda_graph": trainer.graph is not None, "fused": trainer.fused,
            "capture_seconds": round(trainer.capture_seconds, 3),
            "valid_accuracy": round(accuracy, 6)}


def run_bench(
    model: str = "lenet5",
    device: str = BENCH_DEFAULTS["device"],
    batch_size: int = BENCH_DEFAULTS["batch_size"],
    epochs: int = BENCH_DEFAULTS["epochs"],
    notebook: bool = True,
    progress: bool = True,
    channels_last: bool = True,
    precision: str = "fp32",
    compile: bool = False,
    fuse: bool = False,
    lang: str = "en",
) -> dict[str, Any]:
    """Measure everything ``lenetlab bench`` prints; returns the numbers as a dict (``lang``: its progress lines).

    ``fuse``: the fast path with its first stage in two Triton kernels (a CUDA GPU; ``fit``'s epochs never fuse).

    Examples
    --------
    >>> result = run_bench(epochs=1, notebook=False, progress=False)
    >>> result["lenetlab"]["epoch_seconds"] > 0   # 1.9 s on 2 CPU cores
    True
    """
    dev = resolve_device(device)
    data = load_mnist()
    config = TrainConfig.from_preset("seed", model=model, epochs=epochs, batch_size=batch_size, device=str(dev),
                                     channels_last=channels_last, precision=precision, compile=compile)
    macs = layer_table(build_model(model))["total_macs"]
    # Training costs about three forward passes (forward, and backward for inputs and weights).
    flops_per_epoch = 2 * macs * (3 * len(data.train) + len(data.valid))

    result: dict[str, Any] = {
        "machine": {
            "cpu": cpu_name(),
            "cores": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
            "device": str(dev),
            "load": machine_load(),  # how busy the machine was when the timing started
        },
        "versions": {"torch": torch.__version__, "python": platform.python_version(), "numpy": np.__version__},
        "settings": {"model": model, "batch_size": batch_size, "epochs": epochs, "recipe": "seed (SGD 0.01)",
                     "channels_last": channels_last, "precision": precision, "compile": compile, "fuse": fuse,
                     "train_images": len(data.train), "valid_images": len(data.valid)},
        "macs_per_image": macs,
        "gflop_per_epoch": round(flops_per_epoch / 1e9, 2),
    }
    say = print if progress else (lambda *a, **k: None)
    if dev.type == "cpu" and (warning := busy_line(machine_load(), lang)):
        print(t(lang, "cli.warning", message=warning), file=sys.stderr)
    n_epochs = plural(lang, "cli.epochs", epochs)

    say(t(lang, "cli.bench.measuring_peak"), file=sys.stderr)
    peak = {"fp32_gflops": round(matmul_peak(dev), 1)}
    if bf16_supported(dev):
        peak["bf16_gflops"] = round(matmul_peak(dev, torch.bfloat16), 1)
    result["matmul_peak"] = peak

    say(t(lang, "cli.bench.training_plain", epochs=n_epochs), file=sys.stderr)
    torch.manual_seed(0)
    nchw = fit(build_model(model).to(dev), data, dataclasses.replace(config, channels_last=False),
               progress=progress, log=None, lang=lang).history[-1]
    result["in_memory_plain"] = {"train_seconds": nchw.train_seconds, "valid_seconds": nchw.valid_seconds,
                                 "epoch_seconds": round(nchw.train_seconds + nchw.valid_seconds, 3)}

    say(t(lang, "cli.bench.training_as_train", epochs=n_epochs), file=sys.stderr)
    torch.manual_seed(0)
    net = build_model(model).to(dev)
    state = fit(net, data, config, progress=progress, log=None, lang=lang)
    last = state.history[-1]  # the last epoch: warmed up when epochs > 1
    epoch_seconds = last.train_seconds + last.valid_seconds
    result["lenetlab"] = {
        "train_seconds": last.train_seconds,
        "valid_seconds": last.valid_seconds,
        "epoch_seconds": round(epoch_seconds, 3),
        "train_images_per_s": round(len(data.train) / last.train_seconds),
        "inference_images_per_s": round(inference_throughput(net, data.test.images, dev)),
        "achieved_gflops": round(flops_per_epoch / epoch_seconds / 1e9, 1),
        "valid_accuracy": last.valid_accuracy,
    }
    result["lenetlab"]["share_of_fp32_peak"] = round(result["lenetlab"]["achieved_gflops"] / peak["fp32_gflops"], 3)

    say(t(lang, "cli.bench.training_fast", epochs=n_epochs), file=sys.stderr)
    fast = fast_path_epoch(build_model(model).to(dev), data, dataclasses.replace(config, fuse=fuse), dev)
    fast["speedup_vs_lenetlab"] = round(epoch_seconds / fast["epoch_seconds"], 2)
    result["fast_path"] = fast

    if notebook:
        say(t(lang, "cli.bench.notebook_epoch"), file=sys.stderr)
        torch.manual_seed(0)
        nb = notebook_epoch(build_model(model).to(dev), data, batch_size, dev)
        result["notebook"] = {k: round(v, 3) for k, v in nb.items()}
        result["speedup_vs_notebook"] = round(nb["epoch_seconds"] / epoch_seconds, 2)
    result["memory"] = peak_memory_mb(dev)
    return result


def format_report(r: dict[str, Any], lang: str = "en") -> str:
    """The numbers of :func:`run_bench` as the lines ``lenetlab bench`` prints, in ``lang``."""
    m, s, ours = r["machine"], r["settings"], r["lenetlab"]
    peak = r["matmul_peak"]

    def megabytes(value: float) -> str:
        return t(lang, "cli.bench.megabytes", value=plain(value, lang))

    lines = [
        t(lang, "cli.bench.machine", cpu=m["cpu"], threads=plural(lang, "cli.threads", m["cores"]),
          capability=m["cpu_capability"], load=plain(m["load"]["load_1min"], lang),
          cores=plural(lang, "cli.cores", m["load"]["cores"]), gpu=t(lang, "cli.bench.gpu", gpu=m["gpu"]) if m["gpu"] else ""),
        t(lang, "cli.bench.versions", torch=r["versions"]["torch"], python=r["versions"]["python"]),
        t(lang, "cli.bench.workload", model=s["model"], batch=s["batch_size"], train=number(s["train_images"], lang),
          valid=number(s["valid_images"], lang), gflop=plain(r["gflop_per_epoch"], lang),
          macs=number(r["macs_per_image"], lang)),
        t(lang, "cli.bench.peak", fp32=plain(peak["fp32_gflops"], lang),
          bf16=t(lang, "cli.bench.peak_bf16", bf16=plain(peak["bf16_gflops"], lang)) if "bf16_gflops" in peak else ""),
        t(lang, "cli.bench.in_memory", epoch=fixed(r["in_memory_plain"]["epoch_seconds"], lang, 2)),
        t(lang, "cli.bench.lenetlab", epoch=fixed(ours["epoch_seconds"], lang, 2), train=fixed(ours["train_seconds"], lang, 2),
          valid=fixed(ours["valid_seconds"], lang, 2), channels_last=s["channels_last"], precision=s["precision"],
          compile=s["compile"]),
        t(lang, "cli.bench.throughput", train=number(ours["train_images_per_s"], lang),
          inference=number(ours["inference_images_per_s"], lang)),
        t(lang, "cli.bench.achieved", gflops=plain(ours["achieved_gflops"], lang),
          share=fixed(100 * ours["share_of_fp32_peak"], lang, 0)),
    ]
    if "fast_path" in r:
        fast = r["fast_path"]
        lines.append(t(lang, "cli.bench.fast", epoch=fixed(fast["epoch_seconds"], lang, 3),
                       train=fixed(fast["train_seconds"], lang, 3), valid=fixed(fast["valid_seconds"], lang, 3),
                       images=number(fast["train_images_per_s"], lang),
                       how=t(lang, "cli.bench.graph" if fast["cuda_graph"] else "cli.bench.eager")
                       + (t(lang, "cli.bench.fused") if fast.get("fused") else ""),
                       speedup=plain(fast["speedup_vs_lenetlab"], lang)))
    if "notebook" in r:
        nb = r["notebook"]
        lines.append(t(lang, "cli.bench.notebook", epoch=fixed(nb["epoch_seconds"], lang, 2),
                       train=fixed(nb["train_seconds"], lang, 2), valid=fixed(nb["valid_seconds"], lang, 2),
                       speedup=plain(r["speedup_vs_notebook"], lang)))
    mem = r["memory"]
    resident = t(lang, "cli.bench.memory_unknown") if mem["peak_rss_mb"] is None else megabytes(mem["peak_rss_mb"])
    lines.append(t(lang, "cli.bench.memory", resident=resident,
                   gpu=t(lang, "cli.bench.peak_gpu", value=megabytes(mem["peak_gpu_mb"])) if "peak_gpu_mb" in mem else ""))
    return "\n".join(lines)
