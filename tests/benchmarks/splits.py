"""Evaluation splits made here, in the exchange format of ../shared/EVALUATION.md, for robustness checks and
training-cost benchmarks. None reads ``test.jsonl``:

* ``synthetic``: a catalog of N items with long descriptions and Zipf popularity, users with tastes over
  topics, events over time (a stand-in for a larger, longer-tail catalog than ml-100k's 1,682 items);
* resamples of the ml-100k split's *training* events (``holdout``: all of them, ``half-users``: a random half
  of the users, another half per ``--seed``, ``quarter-users``: the same with a quarter, ``long-tail``,
  ``more-cold``, ``random``: each user's test part drawn at random instead of last in time): the protocol
  applied again to ``train.jsonl`` alone, so each has its own test part cut from training data (where
  design choices are made).

    .venv/bin/python tests/benchmarks/splits.py synthetic OUT [--items 10000 --users 610 --events 70000]
    .venv/bin/python tests/benchmarks/splits.py holdout|half-users|quarter-users|long-tail|more-cold|random OUT \
        [--seed 0]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from _common import ML100K

COLD_SHARE = 0.15
COLD_KEEP = 3
TEST_SHARE = 0.2
MIN_EVENTS = 10

WORDS = (
    "time people way year work world life day part place case week company system program question government "
    "number night point home water room mother area money story fact month lot right study book eye job word "
    "business issue side kind head house service friend father power hour game line end member law car city "
    "community name president team minute idea kid body information back parent face others level office door "
    "health person art war history party result change morning reason research girl guy moment air teacher force "
    "education foot boy age policy music market sense nation plan college interest death experience effect class "
    "control care field development role effort rate heart drug show leader light voice wife police mind price "
    "report decision son view relationship town road arm difference value building action model season society "
    "tax director position player record paper space ground form event official matter center couple site project "
    "activity star table need court oil situation cost industry figure street image phone data picture practice "
    "piece land product doctor wall patient worker news test movie north love support technology step baby "
    "computer type attention film tree source organization hair window evidence population site truth rule"
).split()


def _write(out: Path, content: list[dict], users: list[dict], train: list[dict], test: list[dict], cold: list[str]):
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("content", content), ("users", users), ("train", train), ("test", test)):
        with (out / f"{name}.jsonl").open("w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    (out / "cold_users.txt").write_text("\n".join(cold) + "\n")
    print(f"{out}: {len(content)} items, {len(users)} users ({len(cold)} cold), {len(train)} train, {len(test)} test")


def _protocol(
    events: list[dict], labels: dict[str, list[str]], rng, cold_share: float = COLD_SHARE, by_time: bool = True
):
    """EVALUATION.md's protocol: users with >= 10 events; a share cold (first 3 kept); else last 20% test.
    Interests = the 3 most frequent labels among the user's train likes. ``by_time=False``: "first" and
    "last" in an order drawn at random per user instead of by time (a random split)."""
    by_user: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        by_user[e["user_id"]].append(e)
    train, test, cold, users = [], [], [], []
    for user in sorted(by_user):
        evs = sorted(by_user[user], key=lambda e: e["timestamp"])
        if not by_time:
            evs = [evs[i] for i in rng.permutation(len(evs))]
        if len(evs) < MIN_EVENTS:
            continue
        if rng.random() < cold_share:
            kept, held = evs[:COLD_KEEP], evs[COLD_KEEP:]
            cold.append(user)
        else:
            n = max(1, round(len(evs) * TEST_SHARE))
            kept, held = evs[:-n], evs[-n:]
        train += kept
        test += held
        liked = Counter(t for e in kept if e["interaction_type"] == "like" for t in labels[e["content_id"]])
        users.append(
            {"user_id": user, "interests": [t for t, _ in liked.most_common(3)], "skill_level": "intermediate"}
        )
    return users, train, test, cold


def synthetic(out: Path, n_items: int, n_users: int, n_events: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    n_topics = max(10, n_items // 250)
    topic_words = [list(rng.choice(WORDS, 12, replace=False)) for _ in range(n_topics)]
    topics = rng.integers(0, n_topics, n_items)
    content, labels = [], {}
    words = np.array(WORDS)
    for i in range(n_items):
        t = int(topics[i])
        tags = sorted({f"topic-{t}", *(f"tag-{int(x)}" for x in rng.integers(0, 4 * n_topics, rng.integers(1, 4)))})
        length = int(rng.choice([10, 30, 60, 120]))  # words: from a blurb to an article summary (~65 tokens mean)
        own = rng.random(length) < 0.3  # a third of the words come from the item's topic
        text = np.where(own, rng.choice(topic_words[t], length), words[rng.integers(0, len(words), length)])
        cid = f"i{i}"
        content.append(
            {
                "content_id": cid,
                "title": " ".join(text[:5]).capitalize(),
                "category": f"topic-{t}",
                "tags": tags,
                "description": " ".join(text),
            }
        )
        labels[cid] = tags
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity = popularity[rng.permutation(n_items)]
    taste = rng.dirichlet(np.full(n_topics, 0.1), n_users)  # each user likes a few topics
    # events per user: log-normal (a few heavy users, many light ones), so that about ``n_events`` remain
    # for training after the protocol holds out its test part (a fifth, and most of the cold users' events)
    activity = rng.lognormal(0.0, 1.0, n_users)
    per_user = np.clip(np.round(1.5 * n_events * activity / activity.sum()), MIN_EVENTS, n_items // 4).astype(int)
    events = []
    start = 1_500_000_000
    for u in range(n_users):
        p = popularity * (taste[u][topics] + 0.02)
        p /= p.sum()
        items = rng.choice(n_items, size=min(per_user[u], n_items // 2), replace=False, p=p)
        affinity = taste[u][topics[items]]
        clock = start + int(rng.integers(0, 3e7))
        for i, a in zip(items, affinity, strict=True):
            clock += int(rng.exponential(3600))
            kind = "like" if rng.random() < 0.35 + 0.5 * a else ("click" if rng.random() < 0.7 else "skip")
            events.append(
                {
                    "user_id": f"u{u}",
                    "content_id": f"i{int(i)}",
                    "interaction_type": kind,
                    "duration_seconds": None,
                    "timestamp": _iso(clock),
                }
            )
    users, train, test, cold = _protocol(events, labels, rng)
    _write(out, content, users, train, test, cold)


def _iso(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat()


def resample(out: Path, variant: str, seed: int = 0) -> None:
    """The protocol applied again to the ml-100k split's training events (its test file is never read)."""
    rng = np.random.default_rng(seed)
    content = [json.loads(line) for line in (ML100K / "content.jsonl").open()]
    labels = {c["content_id"]: c["tags"] or [c["category"]] for c in content}
    events = [json.loads(line) for line in (ML100K / "train.jsonl").open()]
    cold_before = set((ML100K / "cold_users.txt").read_text().split())
    events = [e for e in events if e["user_id"] not in cold_before]  # their 3 events make no new split
    cold_share, by_time = COLD_SHARE, True
    if variant in ("half-users", "quarter-users"):
        users = sorted({e["user_id"] for e in events})
        keep = set(rng.choice(users, len(users) // (2 if variant == "half-users" else 4), replace=False))
        events = [e for e in events if e["user_id"] in keep]
    elif variant == "long-tail":
        counts = Counter(e["content_id"] for e in events)
        head = {cid for cid, _ in counts.most_common(len(counts) // 10)}  # the 10% most popular items go
        events = [e for e in events if e["content_id"] not in head]
    elif variant == "more-cold":
        cold_share = 0.4
    elif variant == "random":
        by_time = False
    elif variant != "holdout":  # holdout: the protocol on the training events as they are
        raise SystemExit(f"unknown variant {variant!r}")
    users, train, test, cold = _protocol(events, labels, rng, cold_share, by_time)
    _write(out, content, users, train, test, cold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = ["synthetic", "holdout", "half-users", "quarter-users", "long-tail", "more-cold", "random"]
    parser.add_argument("kind", choices=kinds)
    parser.add_argument("out", type=Path)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=610)
    parser.add_argument("--events", type=int, default=70_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.kind == "synthetic":
        synthetic(args.out, args.items, args.users, args.events, args.seed)
    else:
        resample(args.out, args.kind, args.seed)


if __name__ == "__main__":
    main()
