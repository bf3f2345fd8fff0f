"""Read a run's TensorBoard event files with TensorBoard's own reader and compare every scalar.

`makemore train --tensorboard` writes `events.out.tfevents.*` into the run directory by hand
(TFRecord framing with masked CRC-32C, the Event / Summary / HistogramProto messages). This
loads the directory with `tensorboard.backend.event_processing.event_accumulator.EventAccumulator`
(which checks every record's CRCs and parses every message) and compares:

- `Loss/train` and `lr` with log.csv, every step: the same steps, the values equal as float32;
- `Loss/dev` with log.csv's dev_loss, at every step where it was measured (float32);
- `update_ratio/*`, `grad_data_ratio/*` and `saturated/*` with diagnostics.csv, every snapshot;
- the histograms (`activations/*`, `activation_grads/*`, `weight_grads/*`): one per snapshot,
  their bucket counts adding up to `num`, `min <= max`.

Exits 1, naming the first difference, on any mismatch; prints a summary otherwise.

Run:
    $(scripts/reference-env tensorboard) reference/tensorboard_check.py RUN_DIRECTORY
"""

from __future__ import annotations

import csv
import math
import struct
import sys
from collections import defaultdict
from pathlib import Path

from tensorboard.backend.event_processing import event_accumulator


def f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def fail(message: str) -> None:
    print(f"tensorboard_check: {message}")
    sys.exit(1)


def main() -> None:
    if len(sys.argv) != 2:
        fail("usage: tensorboard_check.py RUN_DIRECTORY")
    run = Path(sys.argv[1])
    if not list(run.glob("events.out.tfevents.*")):
        fail(f"no events.out.tfevents.* in {run}")
    acc = event_accumulator.EventAccumulator(
        str(run), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in tags["scalars"]}
    for tag in tags["scalars"]:
        if len(acc.Scalars(tag)) != len(scalars[tag]):
            fail(f"{tag}: {len(acc.Scalars(tag))} events for {len(scalars[tag])} steps (a step written twice)")

    train, lr, dev = {}, {}, {}
    with open(run / "log.csv", newline="") as f:
        for row in csv.DictReader(f):
            step = int(row["step"])
            train[step] = f32(float(row["train_loss"]))
            lr[step] = f32(float(row["lr"]))
            if row["dev_loss"]:
                dev[step] = f32(float(row["dev_loss"]))

    def compare(tag: str, expected: dict[int, float]) -> int:
        got = scalars.get(tag)
        if got is None:
            fail(f"no scalar {tag}")
        if sorted(got) != sorted(expected):
            missing = sorted(set(expected) - set(got))[:5]
            extra = sorted(set(got) - set(expected))[:5]
            fail(f"{tag}: steps differ (missing {missing}, extra {extra})")
        for step, value in expected.items():
            if not (got[step] == value or (math.isnan(got[step]) and math.isnan(value))):
                fail(f"{tag} at step {step}: event file {got[step]!r}, csv {value!r}")
        return len(expected)

    compared = compare("Loss/train", train) + compare("lr", lr) + compare("Loss/dev", dev)

    diagnostics = defaultdict(dict)
    with open(run / "diagnostics.csv", newline="") as f:
        for row in csv.DictReader(f):
            tag = {"update_ratio": "update_ratio", "grad_data_ratio": "grad_data_ratio", "saturated": "saturated"}.get(row["metric"])
            if tag:
                diagnostics[f"{tag}/{row['name']}"][int(row["step"])] = f32(float(row["value"]))
    if not diagnostics:
        fail("diagnostics.csv has no ratios")
    for tag, expected in diagnostics.items():
        compared += compare(tag, expected)
    extra = [t for t in scalars if t not in diagnostics and t not in ("Loss/train", "lr", "Loss/dev")]
    if extra:
        fail(f"scalars not in log.csv or diagnostics.csv: {extra[:5]}")

    snapshots = {step for values in diagnostics.values() for step in values}
    histograms = 0
    for tag in tags["histograms"]:
        events = acc.Histograms(tag)
        if {e.step for e in events} != snapshots:
            fail(f"histogram {tag}: steps {sorted(e.step for e in events)[:5]}... differ from the snapshots'")
        for e in events:
            h = e.histogram_value
            if sum(h.bucket) != h.num or not h.min <= h.max or len(h.bucket) != len(h.bucket_limit):
                fail(f"histogram {tag} at step {e.step}: counts {sum(h.bucket)} of {h.num}, min {h.min}, max {h.max}")
            histograms += 1
    if not any(t.startswith("weight_grads/") for t in tags["histograms"]):
        fail("no weight gradient histograms")
    print(f"tensorboard_check: {compared} scalars equal to log.csv and diagnostics.csv "
          f"({len(train)} steps, {len(dev)} dev losses, {len(diagnostics)} ratio tags), {histograms} histograms whole")


if __name__ == "__main__":
    main()
