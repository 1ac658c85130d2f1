"""Record the one-epoch numbers of the default recipe for this machine's setup in tests/golden/.

    python3 scripts/golden_numbers.py     # trains one epoch (seed 0), as tests/conftest.py's trained_run

The test (tests/test_layout.py) compares to float noise where the setup (PyTorch version, architecture,
CPU threads) has a record, and loosely elsewhere: exact floats depend on all three.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from lenetlab import TrainConfig, train_run  # noqa: E402
from test_layout import GOLDEN, golden_key  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        metrics = train_run(TrainConfig.from_preset("default", epochs=1), Path(folder) / "run", progress=False, log=None)
    first = metrics["epochs"][0]
    numbers = {"train_loss": first["train_loss"], "valid_loss": first["valid_loss"],
               "valid_accuracy": first["valid_accuracy"], "test_accuracy": metrics["test"]["accuracy"],
               "test_loss": metrics["test"]["loss"]}
    golden = json.loads(GOLDEN.read_text())
    golden["runs"][golden_key()] = numbers
    GOLDEN.write_text(json.dumps(golden, indent=2) + "\n")
    print(f"{golden_key()}: {numbers}")


if __name__ == "__main__":
    main()
