"""Does the choice generalise? The ml-100k split's *training* events resampled (never its test file): the
protocol by time on all users (``holdout``), the same with other users drawn at random to be the newcomers
(``newcomers-redrawn``), the same with each user's test part drawn at random instead of last in time
(``random``), five random halves of the users (``half-0`` .. ``half-4``) and three random quarters
(``quarter-0`` .. ``quarter-2``: ~200 held-out users, the regime of a 10K-item catalog with few users). On each,
``bench_reference.py`` puts Dummi (`dummi evaluate`, the real pipeline) beside the reference models; this
prints, per resample, Dummi's NDCG@10 against the best reference of each column and what its training
chose, then the spread of each column across the resamples.

    .venv/bin/python tests/benchmarks/resampling.py OUT   # ~35 min on 2 cores; resamples already in OUT are kept
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESAMPLES = {
    "holdout": ["holdout"],
    "newcomers-redrawn": ["holdout", "--seed", "1"],
    "random": ["random"],
    **{f"half-{seed}": ["half-users", "--seed", str(seed)] for seed in range(5)},
    # a quarter of the users: ~200 held out, the regime of a 10K-item catalog with a few hundred users
    **{f"quarter-{seed}": ["quarter-users", "--seed", str(seed)] for seed in range(3)},
}
GROUPS = ("all", "warm", "cold")


def run(out: Path) -> None:
    for name, args in RESAMPLES.items():
        result = out / f"{name}.json"
        if result.exists():
            continue
        split = out / "splits" / name
        if not (split / "test.jsonl").exists():
            subprocess.run([sys.executable, str(HERE / "splits.py"), args[0], str(split), *args[1:]], check=True)
        print(f"{name}: references and Dummi ...", flush=True)
        subprocess.run(
            [sys.executable, str(HERE / "bench_reference.py"), str(split), "--json", str(result)], check=True
        )


def _choice(training: dict) -> str:
    cf = training.get("cf") or {}
    params = cf.get("params", {})
    label = cf.get("algorithm", "none")
    l2 = params.get("l2", params.get("first", {}).get("params", {}).get("l2"))
    if l2 is not None:
        label += f" λ{l2:g}" + (f" weight {params['weight']:g}" if "weight" in params else "")
    runners = sorted(training.get("cf_candidates", []), key=lambda c: -c["ndcg"])
    if len(runners) > 1 and runners[1]["noise"] > 0:
        gap = (runners[0]["ndcg"] - runners[1]["ndcg"]) / runners[1]["noise"]
        label += f" (next: {runners[1]['cf']}, {gap:.1f} SE behind)"
    s = training.get("settings", {})
    keys = ("recency_half_life", "sequence_weight", "cf_share", "popularity_penalty", "skip_penalty")
    short = ("recency", "next-item", "cf share", "penalty", "skip")
    label += ", " + ", ".join(f"{k} {s[key]:g}" for k, key in zip(short, keys, strict=True) if key in s)
    taken = [d["step"] for d in training.get("decisions", []) if d.get("accepted")]
    guard = training.get("guard", {}).get("published", "recipe")
    newcomers = training.get("newcomers", {})
    label += f"; simplified: {', '.join(taken) or 'nothing'}; guard: {guard}"
    return label + f"; newcomers: {newcomers.get('published', '?')} {newcomers.get('cf', '')}".rstrip()


def table(out: Path) -> None:
    ratios: dict[str, list[float]] = {g: [] for g in GROUPS}
    coverage: list[tuple[float, float]] = []
    heads = (
        "resample",
        "users (cold)",
        "Dummi all / warm / cold NDCG@10",
        "best reference",
        "Dummi ÷ best",
        "coverage: Dummi / EASE",
        "holdout noise (warm / cold)",
        "chosen",
    )
    print("| " + " | ".join(heads) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for name in RESAMPLES:
        path = out / f"{name}.json"
        if not path.exists():
            continue
        found = json.loads(path.read_text())
        models = found["models"]
        dummi = models["Dummi (dummi evaluate)"]
        references = {k: v for k, v in models.items() if not k.startswith("Dummi")}
        best = {g: max(references.values(), key=lambda m, g=g: m[g]["ndcg"])[g]["ndcg"] for g in GROUPS}
        for g in GROUPS:
            ratios[g].append(dummi[g]["ndcg"] / best[g])
        ease = models["EASE (lambda 250)"]["all"]["coverage"]
        coverage.append((dummi["all"]["coverage"], ease))
        noise = found["dummi_training"].get("noise", {})
        users = f"{int(dummi['all']['users'])} ({int(dummi['cold']['users'])})"
        print(
            f"| {name} | {users} | "
            + " / ".join(f"{dummi[g]['ndcg']:.4f}" for g in GROUPS)
            + " | "
            + " / ".join(f"{best[g]:.4f}" for g in GROUPS)
            + " | "
            + " / ".join(f"{dummi[g]['ndcg'] / best[g]:.3f}x" for g in GROUPS)
            + f" | {dummi['all']['coverage']:.3f} / {ease:.3f} | "
            + " / ".join(f"{noise.get(g, {}).get('ndcg_se', float('nan')):.4f}" for g in ("warm", "cold"))
            + f" | {_choice(found['dummi_training'])} |"
        )
    if not ratios["all"]:
        return
    print()
    by_time = [k for k, name in enumerate(n for n in RESAMPLES if (out / f"{n}.json").exists()) if name != "random"]
    print("Dummi ÷ best reference across the resamples by time: mean ± standard deviation [min, max]")
    for g in GROUPS:
        r = np.array(ratios[g])[by_time]
        print(f"  {g:<5} {r.mean():.3f}x ± {r.std(ddof=1) if len(r) > 1 else 0:.3f} [{r.min():.3f}, {r.max():.3f}]")
    above = sum(d >= e for d, e in coverage)
    print(f"  coverage at least EASE's on {above} of {len(coverage)}")


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if "--table-only" not in sys.argv:
        run(out)
    table(out)


if __name__ == "__main__":
    main()
