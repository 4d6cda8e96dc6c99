"""``rnnkit datasets``: the named datasets, their sources, sizes and checksums."""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.cli.common import print_json


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "datasets",
        help="list the named datasets",
        description="List the datasets that rnnkit train and evaluate accept by name, with "
        "their sources, sizes and checksums. A name resolves to DIR/NAME/ under "
        "--data-dir or $RNNKIT_DATA_DIR, then to the cache, then to a download.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def _split_text(sizes: tuple[int, int | None, int | None]) -> str:
    from rnnkit.data.registry import HOLD_OUT, SPLIT_SEED

    train, valid, test = sizes
    held = f"{HOLD_OUT:.0%} of train (seed {SPLIT_SEED})"
    return (
        f"train {train:,}, valid {f'{valid:,}' if valid else held}, "
        f"test {f'{test:,}' if test else f'{HOLD_OUT:.0%} of all (seed {SPLIT_SEED})'}"
    )


def run(args: argparse.Namespace) -> int:
    from rnnkit.data.registry import DATASETS

    if args.json:
        print_json(
            {
                name: {
                    "title": info.title,
                    "source": info.source,
                    "classes": list(info.classes),
                    "sizes": dict(zip(("train", "valid", "test"), info.sizes, strict=True)),
                    "notes": info.notes,
                    "files": [
                        {"name": f.name, "url": f.url, "checksum": f.checksum, "bytes": f.size}
                        for f in info.files
                    ],
                }
                for name, info in DATASETS.items()
            }
        )
        return 0
    for name, info in DATASETS.items():
        print(f"{name}: {info.title}")
        print(f"  source:  {info.source}")
        print(f"  classes: {', '.join(info.classes)}")
        print(f"  rows:    {_split_text(info.sizes)}")
        if info.notes:
            print(f"  notes:   {info.notes}")
        for remote in info.files:
            size = f", {remote.size:,} bytes" if remote.size else ""
            print(f"  file:    {remote.name} <- {remote.url}")
            print(f"           {remote.checksum}{size}")
        print()
    return 0
