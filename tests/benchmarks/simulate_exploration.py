"""Exploration by simulation, through the code serving runs (dummi.ml.explore).

A catalog of 1,000 items in 10 topics, 900 established (their CTR well known, never explored) and 100 new
(no impressions yet); each item has a latent quality (CTR Beta(2, 38), mean 5%). 2,000 users each like one
or two topics: the CTR of an item for a user is its quality x 1 (a liked topic) or 0.3, x the position's
bias 1/log2(position + 1). Every request shows 10 items: the recommender's best established items for the
user (the exploit slots) and, with exploration, one slot given by the policy to a new item of the user's
topics, at a random position from 3 to 10. Clicks are drawn; the policies learn from them at once.

Policies for the slot: Thompson sampling (Dummi's: Beta prior centred on the global CTR, pseudo-count 10),
epsilon-greedy (0.1: a random candidate, else the best observed CTR), and "the latest items" (the newest
candidate, as Gorse once did), against no exploration. Prints, over SEEDS runs of 10,000 requests:
- new items with at least 30 impressions (goal: all of them, within 10,000 requests);
- cumulative regret of the slot (the CTR the best candidate would have had there, less the chosen one's),
  Thompson against the others (goal: at most half);
- CTR of the exploit slots against the same lists without exploration (goal: within 1%);
- off-policy: from Thompson's log (the decisions and propensities serving logs), the self-normalised IPS
  estimate of the slot CTR of three other policies (uniform over the candidates; greedy on the posterior
  mean; Thompson with a prior of 20 pseudo-impressions), computed as `dummi evaluate-policy` does, against
  the CTR they really get when run (goal: within 10%).

    .venv/bin/python tests/benchmarks/simulate_exploration.py [--seeds 5] [--requests 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dummi.ml.explore import posterior, snips, target_probability, thompson

N_ITEMS, N_NEW, TOPICS, USERS, N = 1000, 100, 10, 2000, 10
OTHER_TOPIC = 0.3


class World:
    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        self.topic = rng.integers(0, TOPICS, N_ITEMS)
        self.quality = rng.beta(2, 38, N_ITEMS)
        self.new = np.arange(N_ITEMS - N_NEW, N_ITEMS)
        self.age_rank = rng.permutation(N_NEW)  # the "latest" policy's notion of newest (0 = newest)
        likes = np.zeros((USERS, TOPICS), bool)
        likes[np.arange(USERS), rng.integers(0, TOPICS, USERS)] = True
        second = rng.random(USERS) < 0.5
        likes[np.flatnonzero(second), rng.integers(0, TOPICS, int(second.sum()))] = True
        self.likes = likes
        old = np.arange(N_ITEMS - N_NEW)
        self.exploit = []
        for u in range(USERS):  # the recommender's best established items for the user, in order
            ctr = self.quality[old] * np.where(likes[u, self.topic[old]], 1.0, OTHER_TOPIC)
            self.exploit.append(old[np.argsort(-ctr)[:N]])
        self.candidates = [self.new[likes[u, self.topic[self.new]]] for u in range(USERS)]
        self.global_ctr = float(np.mean(self.quality))

    def ctr(self, u: int, items, positions) -> np.ndarray:
        items, positions = np.asarray(items), np.asarray(positions)
        taste = np.where(self.likes[u, self.topic[items]], 1.0, OTHER_TOPIC)
        return self.quality[items] * taste / np.log2(positions + 1)


def run(world: World, policy: str, requests: int, seed: int):
    rng = np.random.default_rng(seed + 1000)
    shown = np.zeros(N_ITEMS)
    clicked = np.zeros(N_ITEMS)
    regret = 0.0
    exploit_ctr = []
    exploit_clicks = []  # expected clicks of the recommender's items per list
    slot = {"clicks": 0.0, "n": 0}
    log = []  # (decision as logged, click)
    for _ in range(requests):
        u = int(rng.integers(USERS))
        cands = world.candidates[u]
        exploit = world.exploit[u]
        if policy == "none" or not len(cands):
            ctr = world.ctr(u, exploit, np.arange(1, N + 1))
            exploit_ctr.extend(ctr)
            exploit_clicks.append(ctr.sum())
            continue
        if policy in ("thompson", "thompson20"):
            strength = 20.0 if policy == "thompson20" else 10.0
            (pick,) = thompson(shown[cands], clicked[cands], world.global_ctr, 1, N, rng, prior_strength=strength)
            index, position, propensity = pick.index, pick.position, pick.propensity
            decision = {  # as serving logs it (impressions.explore)
                "impressions": shown[cands].tolist(),
                "clicks": clicked[cands].tolist(),
                "global_ctr": world.global_ctr,
                "chosen": index,
                "taken": [],
                "propensity": propensity,
            }
        else:
            position = int(rng.integers(3, N + 1))
            propensity = None
            if policy == "epsilon":
                if rng.random() < 0.1 or not shown[cands].any():
                    index = int(rng.integers(len(cands)))
                else:
                    observed = np.where(shown[cands] > 0, clicked[cands] / np.maximum(shown[cands], 1), -1.0)
                    index = int(np.argmax(observed + 1e-9 * rng.random(len(cands))))
            elif policy == "latest":
                index = int(np.argmin(world.age_rank[cands - (N_ITEMS - N_NEW)]))
            elif policy == "uniform":
                index = int(rng.integers(len(cands)))
            elif policy == "greedy":
                a, b = posterior(shown[cands], clicked[cands], world.global_ctr)
                index = int(np.argmax(a / (a + b)))
            else:
                raise ValueError(policy)
        item = int(cands[index])
        p_click = float(world.ctr(u, [item], [position])[0])
        regret += float(world.ctr(u, cands, np.full(len(cands), position)).max()) - p_click
        click = rng.random() < p_click
        shown[item] += 1
        clicked[item] += click
        slot["clicks"] += click
        slot["n"] += 1
        positions = [p for p in range(1, N + 1) if p != position]
        ctr = world.ctr(u, exploit[: N - 1], positions)
        exploit_ctr.extend(ctr)
        exploit_clicks.append(ctr.sum())
        if policy == "thompson":
            log.append((decision, click))
    return {
        "reached_30": int((shown[world.new] >= 30).sum()),
        "min_new_impressions": int(shown[world.new].min()),
        "regret": regret,
        "exploit_ctr": float(np.mean(exploit_ctr)),
        "exploit_clicks": float(np.mean(exploit_clicks)),
        "slot_ctr": slot["clicks"] / max(slot["n"], 1),
        "log": log,
    }


def off_policy(log) -> dict[str, float]:
    """SNIPS estimates of other policies' slot CTR from Thompson's log, with the probabilities
    `dummi evaluate-policy` works out (dummi.ml.explore.target_probability)."""
    rewards = [float(click) for _, click in log]
    logged = [d["propensity"] for d, _ in log]
    targets = {"uniform": ("uniform", 10.0), "greedy": ("greedy", 10.0), "thompson20": ("thompson", 20.0)}
    return {
        name: snips(rewards, logged, [target_probability(d, policy, strength) for d, _ in log])
        for name, (policy, strength) in targets.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()
    started = time.perf_counter()
    policies = ("none", "thompson", "epsilon", "latest", "uniform", "greedy", "thompson20")
    results = {p: [] for p in policies}
    estimates = {"uniform": [], "greedy": [], "thompson20": []}
    for seed in range(args.seeds):
        world = World(seed)
        for p in policies:
            results[p].append(run(world, p, args.requests, seed))
        for name, value in off_policy(results["thompson"][-1]["log"]).items():
            estimates[name].append(value)
    mean = lambda p, k: float(np.mean([r[k] for r in results[p]]))  # noqa: E731
    print(
        f"{args.seeds} worlds x {args.requests:,} requests; {N_NEW} new items of {N_ITEMS}; 1 exploration slot of {N}"
    )
    for p in ("thompson", "epsilon", "latest"):
        print(
            f"  {p:<9} new items with >= 30 impressions: {mean(p, 'reached_30'):.1f} of {N_NEW} "
            f"(fewest impressions of a new item: {min(r['min_new_impressions'] for r in results[p])}); "
            f"slot regret {mean(p, 'regret'):.1f}; slot CTR {mean(p, 'slot_ctr'):.4f}; "
            f"exploit-slot CTR {mean(p, 'exploit_ctr'):.5f}"
        )
    none = mean("none", "exploit_ctr")
    print(f"  none      exploit-slot CTR {none:.5f}")
    t = mean("thompson", "regret")
    print(
        f"Thompson's regret / epsilon-greedy's: {t / mean('epsilon', 'regret'):.2f}; / the latest items': "
        f"{t / mean('latest', 'regret'):.2f} (goal <= 0.5); exploit-slot CTR with Thompson against none: "
        f"{mean('thompson', 'exploit_ctr') / none - 1:+.2%} per impression (goal within 1%); the recommender's "
        f"items' clicks per list {mean('thompson', 'exploit_clicks') / mean('none', 'exploit_clicks') - 1:+.2%} "
        f"(the slot's price: the 10th item leaves, those below the slot move down one)"
    )
    for name in ("uniform", "greedy", "thompson20"):
        est, true = float(np.mean(estimates[name])), mean(name, "slot_ctr")
        print(
            f"off-policy (SNIPS from Thompson's log): {name} slot CTR estimated {est:.4f}, really {true:.4f} "
            f"({est / true - 1:+.1%}; goal within 10%)"
        )
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
