"""Time and memory of the batch draw at launch scale, and of reading a batch's sharded members. Not a test.

Usage: ``python bench/selection.py`` (``make bench-selection``); ``--sizes 1000000,3000000`` and
``--members 50000 --shards 1,4,16`` change the work; ``--skip-draw`` / ``--skip-members`` drop a part.

1. The draw (``prakerja.domain.selection``) over 1 M, 3 M and 6 M participants of the published
   example (docs/draw-example.md, ``tests/fixtures/draw_example.py``: 32-hex ids, 38 provinces,
   about 30 % on the priority list, as after the 2020 lay-offs) with a 200,000 quota, an 80 %
   priority share and province quotas, exactly as the tick runs it: the participants digest, the
   seed, then ``draw_ids``. At 6 M the result is checked against the pinned one.
   Each size runs in a fresh child process (single-threaded, one core), so its peak
   RSS (``VmHWM``, else ``ru_maxrss``: the interpreter, the 32-hex applicant ids -- about 100
   bytes each -- and the draw's working memory) is its own. "seconds" is the wall time of
   digest + seed + draw only; making the example's ids is not counted. A separate 1 M child
   measures the draw's own Python allocations with ``tracemalloc`` (bytes per participant
   beyond the ids).
2. Reading 50,000 members from the Batches table (created from template.yaml on moto
   in-process) with 1, 4 and 16 membership shards, through ``BatchStore.member_columns`` (what
   the tick reads: the shards queried in parallel by 8 threads, in 1 MB pages, projected to id,
   province and priority). On moto each request is CPU work inside this very process (moto
   serialises about 1 ms per item, and each Query walks every item of the table; each shard
   count gets a fresh table), so threads cannot overlap it and the time does not fall with the
   shard count. DynamoDB requests are network round trips, which do overlap; the same
   ``member_columns`` code is therefore also timed against an in-memory table that serves the
   same 1 MB pages with a fixed latency per page (``--page-ms``, default 30): a model of the
   latency-bound case, labelled as such.
3. Reading the members of a batch of the draw's size (``--model-members``, default 6,000,000) on
   16 shards through the same ``member_columns`` code, on the latency model only (a moto table of
   6 M items would measure moto): each Query page costs ``--page-ms`` and carries as many items as
   fit DynamoDB's 1 MB page; the client-side CPU of ``member_columns`` over every item is real
   (boto3's own deserialisation of the DynamoDB JSON is not in it). Reported apart from the draw.

The machine may be shared (others' CPU use inflates wall times); each figure is one run.

The last line is machine-readable: ``selection: n=<largest n> seconds=<its draw s> peak_mb=<its peak RSS MB>``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "local")]

QUOTA = 200_000
PRIORITY_SHARE = 0.8
PRIORITY_FRACTION = 0.3
GOAL = "6 M in <= 10 s and <= 1 GB (1024 MB)"
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
import draw_example as example  # noqa: E402


def _max_rss_mb() -> float:
    """Peak RSS of this process. Linux: ``VmHWM`` (``ru_maxrss`` would include the parent's RSS
    at fork, which Linux carries across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def child_draw(n: int, trace: bool) -> dict:
    """One draw of ``n`` in this process; returns the figures."""
    import tracemalloc

    from prakerja.domain import selection

    ids, provinces, flags = example.participants(n)
    before_mb = _max_rss_mb()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    digest = selection.participants_digest(ids)
    digest_s = time.perf_counter() - started
    seed = selection.draw_seed(example.SECRET, digest)
    result = selection.draw_ids(ids, flags, provinces, quota=QUOTA, seed=seed, priority_share=PRIORITY_SHARE,
                                province_quotas=example.PROVINCE_QUOTAS)
    seconds = time.perf_counter() - started
    if n == example.N and (digest, seed, example.ranking_sha256(result.ranked_ids)) != (
            example.PINNED["participants_digest"], example.PINNED["seed"], example.PINNED["ranking_sha256"]):
        raise SystemExit("the draw of the published example differs from its pinned result")
    out = {"n": n, "seconds": round(seconds, 2), "digest_seconds": round(digest_s, 2),
           "draw_seconds": round(seconds - digest_s, 2), "ids_mb": round(before_mb, 0),
           "peak_mb": round(_max_rss_mb(), 0), "selected": result.selected_count,
           "priority_selected": result.priority_selected}
    if trace:
        out["traced_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        out["traced_bytes_per_participant"] = round(tracemalloc.get_traced_memory()[1] / n)
        tracemalloc.stop()
    return out


def run_child(n: int, trace: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", str(n)] + (["--trace"] if trace else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {n} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- members
PAGE_BYTES = 1_000_000  # DynamoDB's (and moto's) Query page limit


def _member(i: int) -> dict:
    return {"joined_at": f"2026-04-16T08:{i % 60:02d}:00.000000Z", "province_code": "31", "priority": i % 3 == 0}


def members_bench(members: int, shard_counts: list[int], page_ms: float) -> list[dict]:
    """Write ``members`` members per shard count to a moto Batches table and time reading them,
    then time the same read against the in-memory latency model."""
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "ap-southeast-3", "AWS_REGION": "ap-southeast-3"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    from prakerja.adapters import aws
    from prakerja.adapters.batches import BatchStore
    from prakerja_local.provision import provision
    from prakerja_local.template import Template

    rng = random.Random(50_000)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(members)]
    rows = []
    for shards in shard_counts:
        with mock_aws():  # a fresh table per shard count: moto's Query walks every item of the table
            aws.reset()
            name = provision(None, Template.load()).ref("BatchesTable")
            store = BatchStore(name, shards)
            batch_id = f"bench-{shards}"
            started = time.perf_counter()
            with store.t.batch_writer() as writer:
                for i, applicant_id in enumerate(ids):
                    writer.put_item(Item=store.member_put(batch_id, applicant_id, _member(i))["Put"]["Item"])
            write_s = time.perf_counter() - started
            counter = _QueryCounter()
            store.t.meta.client.meta.events.register("before-send.dynamodb.Query", counter)
            started = time.perf_counter()
            got, _, _ = store.member_columns(batch_id, joined_before="2026-04-16T09:00:00Z")
            read_s = time.perf_counter() - started
            store.t.meta.client.meta.events.unregister("before-send.dynamodb.Query", counter)
            if len(got) != members:
                raise SystemExit(f"read {len(got)} members, expected {members}")
            model = _model_store(name, shards, page_ms / 1000)
            model.load(batch_id, ids)
            started = time.perf_counter()
            modelled, _, _ = model.member_columns(batch_id, joined_before="2026-04-16T09:00:00Z")
            model_s = time.perf_counter() - started
            if len(modelled) != members:
                raise SystemExit("the model lost members")
            rows.append({"shards": shards, "queries": counter.count, "write_seconds": round(write_s, 1),
                         "read_seconds": round(read_s, 2), "model_pages": model.memory.pages,
                         "model_seconds": round(model_s, 3)})
            print(f"{shards:>7}{counter.count:>9}{write_s:>9.1f}{read_s:>9.2f}{model.memory.pages:>13}{model_s:>13.3f}",
                  flush=True)
    return rows


class _QueryCounter:
    """A botocore ``before-send`` hook counting Query requests (pages)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, **_: object) -> None:
        self.count += 1


class _MemoryTable:
    """The part of a DynamoDB Table resource ``BatchStore.member_columns`` uses (``query`` by ``pk``, with
    1 MB pages), in memory, with ``page_seconds`` of latency per page: the latency-bound model."""

    def __init__(self, page_seconds: float) -> None:
        self.page_seconds = page_seconds
        self.partitions: dict[str, list[tuple[dict, int]]] = {}
        self.pages = 0
        self._lock = threading.Lock()

    def put(self, item: dict) -> None:
        size = sum(len(k) + len(str(v)) for k, v in item.items())  # DynamoDB's item size, roughly
        self.partitions.setdefault(item["pk"], []).append((item, size))

    def query(self, **kwargs: Any) -> dict:
        items = self.partitions.get(kwargs["KeyConditionExpression"].get_expression()["values"][1], [])
        start = end = kwargs.get("ExclusiveStartKey", {}).get("index", 0)
        size = 0
        while end < len(items) and size < PAGE_BYTES:
            size += items[end][1]
            end += 1
        with self._lock:
            self.pages += 1
        time.sleep(self.page_seconds)
        page: dict[str, Any] = {"Items": [item for item, _ in items[start:end]]}
        if end < len(items):
            page["LastEvaluatedKey"] = {"index": end}
        return page


class _PagedModel:
    """The latency model for a batch too big to hold as items: every shard has ``per_shard``
    members; each Query costs ``page_seconds`` and returns one 1 MB page (the same prepared item
    dicts each time, so the model's memory stays small; ``member_columns`` reads them all)."""

    def __init__(self, per_shard: int, page_seconds: float) -> None:
        item = {"pk": "BATCH#bench#M#00", "sk": "0" * 32, **_member(0)}
        size = sum(len(k) + len(str(v)) for k, v in item.items())
        self.per_page = PAGE_BYTES // size
        rng = random.Random(6)
        self.page = [{"sk": f"{rng.getrandbits(128):032x}", "province_code": example.PROVINCES[i % 38],
                      "priority": i % 3 == 0} for i in range(self.per_page)]
        self.per_shard, self.page_seconds = per_shard, page_seconds
        self.pages = 0
        self._lock = threading.Lock()

    def query(self, **kwargs: Any) -> dict:
        done = kwargs.get("ExclusiveStartKey", {}).get("index", 0)
        count = min(self.per_page, self.per_shard - done)
        with self._lock:
            self.pages += 1
        time.sleep(self.page_seconds)
        page: dict[str, Any] = {"Items": self.page[:count]}
        if done + count < self.per_shard:
            page["LastEvaluatedKey"] = {"index": done + count}
        return page


def big_read_bench(members: int, shards: int, page_ms: float) -> dict:
    """Time ``member_columns`` over ``members`` on ``shards`` shards on :class:`_PagedModel`."""
    from prakerja.adapters.batches import BatchStore

    model = _PagedModel(members // shards, page_ms / 1000)

    class ModelStore(BatchStore):
        @property
        def t(self) -> Any:
            return model

    started = time.perf_counter()
    cpu = time.process_time()
    ids, _, _ = ModelStore("model", shards).member_columns("bench", joined_before="2026-04-16T09:00:00Z")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if len(ids) != members // shards * shards:
        raise SystemExit("the paged model lost members")
    ideal = -(-shards // 8) * -(-(members // shards) // model.per_page) * page_ms / 1000
    return {"members": len(ids), "shards": shards, "pages": model.pages, "per_page": model.per_page,
            "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "latency_only_seconds": round(ideal, 2)}


def _model_store(name: str, shards: int, page_seconds: float) -> Any:
    """A ``BatchStore`` (the real ``member_columns`` code) over a :class:`_MemoryTable`."""
    from prakerja.adapters.batches import BatchStore

    class ModelStore(BatchStore):
        memory = _MemoryTable(page_seconds)

        @property
        def t(self) -> Any:
            return self.memory

        def load(self, batch_id: str, ids: list[str]) -> None:
            for i, applicant_id in enumerate(ids):
                self.memory.put(self.member_put(batch_id, applicant_id, _member(i))["Put"]["Item"])

    return ModelStore(name, shards)


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,3000000,6000000")
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--shards", default="1,4,16")
    parser.add_argument("--page-ms", type=float, default=30.0)
    parser.add_argument("--model-members", type=int, default=6_000_000)
    parser.add_argument("--skip-draw", action="store_true")
    parser.add_argument("--skip-members", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child_draw(args.child, args.trace)))
        return 0

    print(f"python {sys.version.split()[0]} on {os.uname().machine}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}; quota {QUOTA:,}, priority share {PRIORITY_SHARE:.0%}, "
          f"{PRIORITY_FRACTION:.0%} on the priority list, province quotas of the published example")
    if not args.skip_members:
        print(f"\nreading {args.members:,} members with BatchStore.member_columns (8 threads): on moto in-process, "
              f"then on the latency model ({args.page_ms:g} ms per 1 MB page)")
        print(f"{'shards':>7}{'queries':>9}{'write s':>9}{'read s':>9}{'model pages':>13}{'model read s':>13}")
        members_bench(args.members, [int(x) for x in args.shards.split(",")], args.page_ms)
        big = big_read_bench(args.model_members, 16, args.page_ms)
        print(f"\nreading {big['members']:,} members on 16 shards, latency model only ({args.page_ms:g} ms per "
              f"1 MB page of {big['per_page']:,} members): {big['seconds']} s ({big['pages']:,} pages; "
              f"{big['latency_only_seconds']} s of it page latency with 8 threads, member_columns' CPU "
              f"{big['cpu_seconds']} s)", flush=True)
    last = None
    if not args.skip_draw:
        sizes = [int(s) for s in args.sizes.split(",")]
        traced = run_child(min(sizes), trace=True)
        print(f"\ndraw's own Python allocations at n={traced['n']:,} (tracemalloc): peak "
              f"{traced['traced_peak_mb']} MB, {traced['traced_bytes_per_participant']} bytes per participant")
        print(f"\nthe draw (digest + seed + draw_ids), one fresh process per size; goal {GOAL}")
        print(f"{'n':>10}{'seconds':>9}{'digest s':>10}{'draw s':>8}{'ids MB':>8}{'peak MB':>9}{'selected':>10}"
              f"{'priority':>10}")
        for n in sizes:
            last = run_child(n)
            print(f"{last['n']:>10,}{last['seconds']:>9}{last['digest_seconds']:>10}{last['draw_seconds']:>8}"
                  f"{last['ids_mb']:>8.0f}{last['peak_mb']:>9.0f}{last['selected']:>10,}{last['priority_selected']:>10,}",
                  flush=True)
    if last:
        print(f"selection: n={last['n']} seconds={last['seconds']} peak_mb={last['peak_mb']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
