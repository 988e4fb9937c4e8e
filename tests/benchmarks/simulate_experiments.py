"""The experiment statistics, proven by simulation (dummi.experiments.statistics, the code the API runs).

Each simulated experiment runs 30 days; 2 x USERS users arrive uniformly over them, split 50/50 by the
assignment, and each has their own CTR drawn from a Beta with mean 5% and concentration 20 (users differ,
so the user, not the impression, is the unit). Two traffic shapes: "lists" (10 items per visit, 1 +
Poisson(1.5) visits) and "sparse" (one impression per user: the hardest case for a given number of users).
Results are looked at after every day, as a team would.

Prints, over RUNS experiments each:
- A/A: the share of experiments in which *any* daily look declared a winner, with the always-valid interval
  (goal: at most 5%) and, for contrast, with the classical fixed-horizon 95% interval (peeking inflates it);
- a +10% relative CTR lift with 50,000 users per arm: the share detected by day 30 (goal: at least 80%)
  and the median day of detection;
- an arm that silently loses 20% of its users: the share flagged by the sample-ratio check (p < 0.001) at
  day 30, and the share of healthy A/A experiments flagged (false alarms).
The mixing scale tau of the sequential test is reported for three values; the code uses MIXING_SCALE.

    .venv/bin/python tests/benchmarks/simulate_experiments.py [--runs 2000] [--users 50000] [--seed 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dummi.experiments.statistics import MIXING_SCALE, UserSums, lift, ratio, sample_ratio_mismatch

DAYS = 30
SHAPES = {"lists": (10, 1.5), "sparse": (1, 0.0)}  # (items per visit, mean extra visits)
CTR = 0.05
CONCENTRATION = 20.0


def arm(rng: np.random.Generator, users: int, ctr_factor: float, shape: str = "lists") -> np.ndarray:
    """Per-day cumulative (N, sum x, sum n, sum x^2, sum n^2, sum xn), shape (DAYS, 6)."""
    per_visit, extra = SHAPES[shape]
    day = rng.integers(0, DAYS, users)
    n = per_visit * (1 + (rng.poisson(extra, users) if extra else np.zeros(users, np.int64)))
    p = rng.beta(CTR * CONCENTRATION, (1 - CTR) * CONCENTRATION, users) * ctr_factor
    x = rng.binomial(n, np.minimum(p, 1.0))
    columns = [np.ones(users), x, n, x * x, n * n, x * n]
    daily = np.stack([np.bincount(day, weights=c.astype(np.float64), minlength=DAYS) for c in columns], axis=1)
    return np.cumsum(daily, axis=0)


def sums(row: np.ndarray) -> UserSums:
    return UserSums(int(row[0]), *(float(v) for v in row[1:]))


def first_detection(control: np.ndarray, treatment: np.ndarray, tau: float) -> tuple[int | None, int | None]:
    """(first day the always-valid interval excluded 0, first day the fixed interval did), 1-based."""
    sequential = fixed = None
    for d in range(DAYS):
        found = lift(ratio(sums(control[d])), ratio(sums(treatment[d])), tau=tau)
        if found is None:
            continue
        if sequential is None and found.significant:
            sequential = d + 1
        lo, hi = found.fixed_interval
        if fixed is None and (lo > 0 or hi < 0):
            fixed = d + 1
        if sequential is not None and fixed is not None:
            break
    return sequential, fixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--users", type=int, default=50_000, help="users per arm")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--taus", default=f"0.05,{MIXING_SCALE},0.2")
    args = parser.parse_args()
    taus = [float(t) for t in args.taus.split(",")]
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(
        f"{args.runs} experiments per scenario, {args.users:,} users per arm, {DAYS} daily looks, "
        f"CTR {CTR:.0%} (user CTRs Beta, concentration {CONCENTRATION:g})"
    )
    for shape in SHAPES:
        print(f"traffic shape {shape!r}: {SHAPES[shape][0]} items per visit, 1 + Poisson({SHAPES[shape][1]:g}) visits")
        aa = [(arm(rng, args.users, 1.0, shape), arm(rng, args.users, 1.0, shape)) for _ in range(args.runs)]
        ab = [(arm(rng, args.users, 1.0, shape), arm(rng, args.users, 1.10, shape)) for _ in range(args.runs)]
        report(aa, ab, taus, args.runs)
    sample_ratio(rng, args)
    print(f"({time.perf_counter() - started:.0f} s)")


def report(aa, ab, taus: list[float], runs: int) -> None:
    for tau in taus:
        false_seq = false_fixed = 0
        for c, t in aa:
            s, f = first_detection(c, t, tau)
            false_seq += s is not None
            false_fixed += f is not None
        detected, days = 0, []
        for c, t in ab:
            s, _ = first_detection(c, t, tau)
            if s is not None:
                detected += 1
                days.append(s)
        mark = "  <- MIXING_SCALE" if tau == MIXING_SCALE else ""
        print(
            f"  tau {tau:<5g} A/A winner declared: always-valid {false_seq / runs:.1%}, fixed 95% interval "
            f"looked at daily {false_fixed / runs:.1%} | +10% lift detected by day {DAYS}: "
            f"{detected / runs:.1%} (median day {int(np.median(days)) if days else '-'}){mark}"
        )


def sample_ratio(rng: np.random.Generator, args) -> None:
    """One arm silently loses 20% of its users (a redirect drops them, a crash hides them)."""
    lost = flagged = false_alarm = 0
    for _ in range(args.runs):
        c = arm(rng, args.users, 1.0)
        t = arm(rng, int(args.users * 0.8), 1.0)
        _, p = sample_ratio_mismatch([int(c[-1, 0]), int(t[-1, 0])], [1.0, 1.0])
        flagged += p < 0.001
        lost += 1
    for _ in range(args.runs):
        c, t = arm(rng, args.users, 1.0), arm(rng, args.users, 1.0)
        _, p = sample_ratio_mismatch([int(c[-1, 0]), int(t[-1, 0])], [1.0, 1.0])
        false_alarm += p < 0.001
    print(
        f"sample-ratio mismatch (p < 0.001) at day {DAYS}: arm losing 20% of users flagged in {flagged / lost:.1%}; "
        f"healthy A/A flagged in {false_alarm / args.runs:.2%}"
    )
    # a mismatch is visible early too: the first day it is flagged
    c, t = arm(rng, args.users, 1.0), arm(rng, int(args.users * 0.8), 1.0)
    first = next(
        (d + 1 for d in range(DAYS) if sample_ratio_mismatch([int(c[d, 0]), int(t[d, 0])], [1, 1])[1] < 0.001), None
    )
    print(f"one such experiment: flagged from day {first}")


if __name__ == "__main__":
    main()
