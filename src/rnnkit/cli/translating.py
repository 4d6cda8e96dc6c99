"""``rnnkit translate MODEL [TEXT ...]`` and ``rnnkit translate evaluate``: using a translator
bundle (the parsers are in :mod:`rnnkit.cli.translate`), and reading sentence pairs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.cli.common import print_json, set_threads
from rnnkit.errors import ConfigError

if TYPE_CHECKING:
    from rnnkit.data.pairs import Pairs, PairSplits
    from rnnkit.translator import Translator


DECODING = ("beam", "length_penalty", "max_ratio")  # the search's options


def read_pairs(args: argparse.Namespace, data: list[str]) -> PairSplits:
    from rnnkit.data.pairs import load_pairs

    return load_pairs(
        data,
        source=args.source,
        target=args.target,
        data_dir=args.data_dir,
        encoding=args.encoding,
        skip_bad_rows=args.skip_bad_rows,
    )


def describe(scores: dict[str, Any]) -> str:
    return (
        f"BLEU {scores['bleu']:.2f}, lower-cased BLEU {scores['bleu_lc']:.2f}, chrF "
        f"{scores['chrf']:.2f} ({scores['sentences']:,} sentences, beam {scores['beam']})"
    )


def load(args: argparse.Namespace, command: str) -> Translator:
    from rnnkit.translator import Translator

    set_threads(args.threads)
    translator = Translator.load(args.model, command=command)
    if args.precision:
        from rnnkit.train.precision import check_precision

        check_precision(args.precision)
        translator.precision = args.precision
    for name in DECODING:
        if getattr(args, name) is not None:
            setattr(translator, name, getattr(args, name))
    translator._decoding()
    return translator


def run_text(args: argparse.Namespace) -> int:
    if args.input is not None and args.texts:
        raise ConfigError("give sentences as TEXT arguments or with --input, not both")
    if args.input is None and not args.texts:
        raise ConfigError("nothing to translate: give TEXT arguments or --input FILE")
    plot = None
    if args.plot_attention:
        from rnnkit.plotting import image_path

        plot = image_path("--plot-attention", args.plot_attention)
    lines = args.texts if args.input is None else _input_lines(args.input)
    if plot is not None and len([t for t in lines if t.strip()]) != 1:
        raise ConfigError("--plot-attention draws one sentence's attention: give one sentence")
    translator = load(args, "rnnkit translate")
    wanted = [t for t in lines if t.strip()]
    found = iter(translator.translations(wanted, backend=args.backend) if wanted else [])
    for text in lines:
        translated = next(found) if text.strip() else None
        if args.json:
            print_json(
                {
                    "source": text,
                    "translation": translated.text if translated else "",
                    "tokens": len(translated.tokens) if translated else 0,
                    "log_prob": round(translated.log_prob, 4) if translated else None,
                }
            )
        else:
            print(translated.text if translated else "")
        if plot is not None and translated is not None:
            from rnnkit.plotting import plot_attention

            pieces, outputs, weights = translator.attention_of(text, translated)
            plot_attention(pieces, outputs, weights, str(plot))
            print(f"wrote {plot}", file=sys.stderr)
    return 0


def _input_lines(path: str) -> list[str]:
    from rnnkit.data.rows import decode, read_bytes, split_lines

    text = sys.stdin.read() if path == "-" else decode(read_bytes(Path(path)), "utf-8", path)
    lines = split_lines(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def run_evaluate(args: argparse.Namespace) -> int:
    translator = load(args, "rnnkit translate evaluate")
    splits = read_pairs(args, args.data)
    named = len(args.data) == 1 and splits.valid is not None
    split = args.split or ("test" if named else "train")
    pairs: Pairs | None = getattr(splits, split)
    if pairs is None:
        raise ConfigError(f"{' '.join(args.data)} has no {split} split: give the pairs' files")
    found = translator.evaluate(pairs.source, pairs.target, backend=args.backend)
    found = {**found, "data": args.data, "split": split if named else None}
    if args.json:
        print_json(found)
    else:
        print(f"{pairs.name}: {describe(found)}")
        for name in ("bleu", "bleu_lc", "chrf"):
            print(f"  {name}: {found[f'{name}_signature']}")
    return 0
