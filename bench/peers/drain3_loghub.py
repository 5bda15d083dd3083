"""drain3 (IBM's Drain, the `drain3` package) on the Loghub 2k sets: grouping accuracy and
parsing throughput, to set beside `anomex logs` on the same messages.

    python bench/peers/drain3_loghub.py ../shared/data/loghub [--repeat 3] [--masks]

Reads each system's `_structured.csv` `Content` column (the messages `anomex logs --preset`
extracts; the Loghub test checks they are equal), parses them with drain3's defaults
(depth 4, similarity 0.4, no masking; `--masks` adds masks equivalent to anomex's default
list), scores groups as the Loghub evaluator does, and times `add_log_message` over all
lines, best of `--repeat` runs on a fresh miner.
"""
import argparse
import csv
import sys
import time
from collections import Counter, defaultdict

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

SYSTEMS = ["HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "HPC", "Thunderbird", "Windows",
           "Linux", "Android", "HealthApp", "Apache", "Proxifier", "OpenSSH", "OpenStack", "Mac"]


def grouping_accuracy(truth, parsed):
    size = Counter(truth)
    groups = defaultdict(Counter)
    for t, p in zip(truth, parsed):
        groups[p][t] += 1
    good = 0
    for events in groups.values():
        if len(events) == 1:
            (event, n), = events.items()
            if size[event] == n:
                good += n
    return good / len(truth)


def miner(masks):
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    if masks:
        config.masking_instructions = [
            MaskingInstruction(r"(/[\w.-]+){2,}/?", "*"),
            MaskingInstruction(r"(/|)(\d{1,3}\.){3}\d{1,3}(:\d+)?", "*"),
            MaskingInstruction(r"\b0[xX][0-9a-fA-F]+\b", "*"),
            MaskingInstruction(r"([\w-]+\.){2,}[\w-]+", "*"),
            MaskingInstruction(r"[-+]?\b[0-9a-fA-F]*[0-9][0-9a-fA-F]*\b", "*"),
            MaskingInstruction(r"[-+]?\d+", "*"),
        ]
    return TemplateMiner(config=config)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loghub")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--masks", action="store_true")
    a = ap.parse_args()
    all_lines = 0
    all_seconds = 0.0
    accs = []
    for system in SYSTEMS:
        with open(f"{a.loghub}/{system}/{system}_2k.log_structured.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        contents = [r["Content"] for r in rows]
        truth = [r["EventId"] for r in rows]
        best = float("inf")
        for _ in range(a.repeat):
            m = miner(a.masks)
            start = time.perf_counter()
            ids = [m.add_log_message(c)["cluster_id"] for c in contents]
            best = min(best, time.perf_counter() - start)
        templates = {c.cluster_id: c.get_template() for c in m.drain.clusters}
        acc = grouping_accuracy(truth, [templates[i] for i in ids])
        accs.append(acc)
        all_lines += len(contents)
        all_seconds += best
        print(f"{system:12} accuracy {acc:.4f}  {len(contents) / best:10.0f} lines/s", flush=True)
    print(f"mean accuracy {sum(accs) / len(accs):.4f}; {all_lines / all_seconds:.0f} lines/s over "
          f"{all_lines} lines (best of {a.repeat})")


if __name__ == "__main__":
    sys.exit(main())
