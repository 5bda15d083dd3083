"""A log series on BGL 2k through the running service: the alarms it raises against BGL's
per-line alert labels.

    ANOMEX_ADMIN_TOKEN=… ANOMEX_INGEST_TOKEN=… python bench/log_series_bgl.py \
        ../shared/data/loghub/BGL/BGL_2k.log --url http://127.0.0.1:8080 [--threshold pot]

Creates one log series (`preset` BGL, `ngram`, the given warm-up and threshold), sends the log's
lines in requests of 100, then compares each line's label (`anomaly` in the answers) with the
first field of the line (`-` is normal). Prints the lines flagged, precision and recall, and the
AUROC of the streamed scores (lines of the warm-up, scored null, left out). Standard library
only.
"""
import argparse
import json
import os
import urllib.request


def call(url, token, body, content_type):
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def auroc(scores, labels):
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(labels)
    neg = len(labels) - pos
    return (sum(r for r, y in zip(ranks, labels) if y) - pos * (pos + 1) / 2) / (pos * neg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--name", default="bgl")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--threshold", default="pot")
    a = ap.parse_args()
    admin, ingest = os.environ["ANOMEX_ADMIN_TOKEN"], os.environ["ANOMEX_INGEST_TOKEN"]
    lines = [l for l in open(a.log, encoding="utf-8", errors="replace").read().splitlines() if l.strip()]
    series = {"name": a.name, "warmup": a.warmup, "threshold": a.threshold, "log": {"preset": "BGL"}}
    call(f"{a.url}/v1/series", admin, json.dumps(series).encode(), "application/json")
    results = []
    for start in range(0, len(lines), 100):
        body = ("\n".join(lines[start:start + 100]) + "\n").encode()
        results += call(f"{a.url}/v1/series/{a.name}/logs", ingest, body, "text/plain")["results"]
    labels = [not l.startswith("-") for l in lines]
    flagged = [r["anomaly"] for r in results]
    tp = sum(f and y for f, y in zip(flagged, labels))
    scored = [(r["score"], y) for r, y in zip(results, labels) if r["score"] is not None]
    print(f"{len(lines)} lines, {sum(labels)} alerts; {len(scored)} scored after the warm-up, "
          f"threshold {a.threshold}: {sum(flagged)} flagged, {tp} of them alerts "
          f"(precision {tp / max(sum(flagged), 1):.3f}, recall {tp / max(sum(labels), 1):.3f}); "
          f"AUROC of the streamed scores after the warm-up "
          f"{auroc([s for s, _ in scored], [y for _, y in scored]):.3f}")


if __name__ == "__main__":
    main()
