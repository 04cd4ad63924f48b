"""Build the web client's region lists from the vendored Kemendagri codes.

    python web/tools/build_regions.py          # rewrites web/data/regions/

Reads ``src/prakerja/data/regions/regions.json`` (see its README for sources and licences) and
writes, for the three selects of the biodata page (province -> regency -> district):

* ``web/data/regions/provinces.json``: ``[[code, name], ...]`` of every province;
* ``web/data/regions/<PP>.json`` per province: ``{"regencies": [[code, name], ...],
  "districts": {regency_code: [[code, name], ...]}}``, fetched only when that province is chosen.

Current codes only: a district that exists only in the pre-2022 list (``historic_districts``) is
left out of the selects (an address is chosen from today's list; a NIK issued under an old code
is still decoded by the API). ``--check`` exits 1 when the files on disk differ (for tests/CI).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "src/prakerja/data/regions/regions.json"
OUT = REPO / "web/data/regions"


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def build(source: Path = SOURCE) -> dict[str, str]:
    """File name -> JSON text of every output file."""
    raw = json.loads(source.read_text(encoding="utf-8"))
    historic_districts = set(raw.get("historic_districts", []))
    historic_regencies = set(raw.get("historic_regencies", []))
    districts: dict[str, list[list[str]]] = {}
    for code, name in sorted(raw["districts"].items()):
        if code in historic_districts:
            continue
        districts.setdefault(code[:5], []).append([code, name])
    regencies: dict[str, list[list[str]]] = {}
    for code, name in sorted(raw["regencies"].items()):
        if code in historic_regencies or code not in districts:
            continue
        regencies.setdefault(code[:2], []).append([code, name])
    provinces = [[code, name] for code, name in sorted(raw["provinces"].items()) if code in regencies]
    files = {"provinces.json": _dump(provinces)}
    for province, rows in regencies.items():
        files[f"{province}.json"] = _dump({"regencies": rows,
                                           "districts": {code: districts[code] for code, _ in rows}})
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the files on disk")
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        stale = sorted(name for name, text in files.items()
                       if not (OUT / name).is_file() or (OUT / name).read_text(encoding="utf-8") != text)
        extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in files)
        if stale or extra:
            print(f"web/data/regions out of date: {stale + extra}; run python web/tools/build_regions.py")
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        if old.name not in files:
            old.unlink()
    for name, text in files.items():
        (OUT / name).write_text(text, encoding="utf-8")
    total = sum(len(t.encode()) for t in files.values())
    print(f"wrote {len(files)} files to {OUT.relative_to(REPO)} ({total // 1024} KiB in all, "
          f"largest {max(len(t.encode()) for t in files.values()) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
