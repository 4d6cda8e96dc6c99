"""The translator's commands that use a model (``evaluate``, ``text``), and how its commands
read sentence pairs."""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from typing import TYPE_CHECKING, Any

from rnnkit.cli.common import add_device_options, load_for, print_json, text_chunks
from rnnkit.cli.tasks import Command
from rnnkit.errors import ConfigError
from rnnkit.tasks.translation.options import BACKENDS, DECODING, OPTIONS

if TYPE_CHECKING:
    from rnnkit.data.pairs import Pairs, PairSplits
    from rnnkit.tasks.translation.estimator import Translator

log = logging.getLogger("rnnkit")

SIDES = ("source", "target")
CHUNK = 1024  # sentences translated together, so a long input streams in bounded memory

DATA_HELP = """\
DATA is two line-aligned files, SRC_FILE TGT_FILE (line N of one translates line N of the
other; .gz files are read as well), one .csv/.tsv file with a source and a target column (a
first row naming the --source and --target columns is a header), one .jsonl file with the
fields --source and --target (default: source, target), or the named dataset multi30k
(--source de --target en, or the reverse; its val and test_2016_flickr splits come with it)."""


def wrapped(text: str) -> str:
    """A paragraph of a description that argparse shows as written (RawDescriptionHelpFormatter,
    for the examples), wrapped as DATA_HELP is."""
    return textwrap.fill(text, 92)


def add_pair_options(parser: argparse.ArgumentParser, *, model: bool = False) -> None:
    """How sentence pairs are read; on a command that uses a model (``model``), --source and
    --target default to the languages it was trained on."""
    group = parser.add_argument_group("reading sentence pairs")
    for name in ("source", "target"):
        action = OPTIONS.add_argument(group, name)
        if model:
            action.help = (
                f"{OPTIONS[name].help.split(';')[0]} (default: as the model was trained; the "
                "other direction is refused)"
            )
    group.add_argument(
        "--encoding", default="utf-8", help="text encoding of the files (default: utf-8)"
    )
    group.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="leave out pairs with an empty side (and report how many) instead of stopping",
    )
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with one subfolder per named dataset (default: $RNNKIT_DATA_DIR, then "
        "the cache, then a download)",
    )


def add_decoding(parser: argparse.ArgumentParser, *, backend: bool = False) -> None:
    """The search's options: on training, the values saved with the model; on the commands
    that use a model (``backend``), changes to what it was saved with."""
    group = parser.add_argument_group("decoding")
    for name in DECODING:
        action = OPTIONS.add_argument(group, name)
        if backend:
            action.default = None
            action.help = f"{OPTIONS[name].help} (default: as the model was saved)"
    if backend:
        group.add_argument(
            "--backend",
            choices=BACKENDS,
            default="torch",
            help="torch, or onnx: ONNX Runtime on MODEL/encoder.onnx and MODEL/decoder.onnx "
            "(rnnkit export MODEL first)",
        )


def add_text(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="translator bundle folder")
    parser.add_argument("texts", metavar="TEXT", nargs="*", help="sentences to translate")
    parser.add_argument(
        "--input",
        metavar="FILE",
        help="translate each line of FILE (- for standard input), read as it comes; a line "
        "holds at most 1,000,000 characters",
    )
    parser.add_argument(
        "--encoding", default="utf-8", help="text encoding of --input (default: utf-8)"
    )
    add_decoding(parser, backend=True)
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per sentence: source, translation, tokens (how many), log_prob",
    )
    parser.add_argument(
        "--plot-attention",
        metavar="FILE",
        help="draw the attention of one sentence's translation (source against output "
        "tokens) to FILE (.png, .svg or .pdf)",
    )
    add_device_options(parser)


def add_evaluate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="translator bundle folder")
    parser.add_argument("data", metavar="DATA", nargs="+", help="pairs, or a dataset name")
    parser.add_argument(
        "--split", choices=("train", "valid", "test"), help="the split of a named dataset"
    )
    add_pair_options(parser, model=True)
    add_decoding(parser, backend=True)
    parser.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    add_device_options(parser)


def read_pairs(
    args: argparse.Namespace,
    data: list[str],
    recorded: tuple[str | None, str | None] = (None, None),
) -> PairSplits:
    """The pairs of ``data`` read with the command's options; ``recorded``: a model's
    languages, where --source and --target are not given (see ``load_pairs``)."""
    from rnnkit.data.pairs import load_pairs

    return load_pairs(
        data,
        source=args.source,
        target=args.target,
        data_dir=args.data_dir,
        encoding=args.encoding,
        skip_bad_rows=args.skip_bad_rows,
        recorded=recorded,
    )


def scored_direction(args: argparse.Namespace, translator: Translator) -> tuple[str, str]:
    """The languages ``translate evaluate`` scores (source, target), named for its output:
    the model's own (recorded when it was trained) unless --source and --target are given
    (one of them given: the other is the model's); the model's direction reversed is refused.
    ``args.source`` and ``args.target`` are completed as the pairs are to be read."""
    from rnnkit.data.pairs import dataset_languages, pair_names

    recorded = (translator.source, translator.target)
    given = (args.source, args.target)
    languages = dataset_languages(args.data)
    if languages is not None and None not in recorded and not set(recorded) <= set(languages):
        log.warning(
            "%s records the source and target %s and %s, which %s does not have; they are "
            "left aside",
            args.model,
            *recorded,
            " ".join(args.data),
        )
        recorded = (None, None)
    if None not in recorded and (given[0] == recorded[1] or given[1] == recorded[0]):
        named = zip(SIDES, given, strict=True)
        shown = " ".join(f"--{side} {name}" for side, name in named if name)
        raise ConfigError(
            f"{args.model} translates {recorded[0]} to {recorded[1]} (recorded when it was "
            f"trained), and {shown} asks to score the other direction; leave --source and "
            "--target out to score it in its own"
        )
    if None not in recorded and None in given and given != (None, None):
        args.source, args.target = (g or r for g, r in zip(given, recorded, strict=True))
    source, target = pair_names(args.data, args.source or recorded[0], args.target or recorded[1])
    if None in recorded and given == (None, None) and languages is not None:
        log.warning(
            "%s does not record its languages (trained on files that do not name them, or "
            "before rnnkit recorded them); scoring %s to %s: give --source and --target if it "
            "translates the other way",
            args.model,
            source,
            target,
        )
    return source or "source", target or "target"


def describe(scores: dict[str, Any]) -> str:
    return (
        f"BLEU {scores['bleu']:.2f}, lower-cased BLEU {scores['bleu_lc']:.2f}, chrF "
        f"{scores['chrf']:.2f} ({scores['sentences']:,} sentences, beam {scores['beam']})"
    )


def load(args: argparse.Namespace, command: str) -> Translator:
    from rnnkit.tasks.translation.estimator import Translator

    translator = load_for(args, Translator, command)
    for name in DECODING:
        if getattr(args, name) is not None:
            setattr(translator, name, getattr(args, name))
    translator._decoding()
    return translator


def run_text(args: argparse.Namespace) -> int:
    if args.input is None and not args.texts:
        raise ConfigError("nothing to translate: give TEXT arguments or --input FILE")
    plot = None
    if args.plot_attention:
        from rnnkit.plotting import image_path

        plot = image_path("--plot-attention", args.plot_attention)
        if args.input is not None or len(args.texts) != 1:
            raise ConfigError("--plot-attention draws one sentence's attention: give one TEXT")
    from rnnkit.tasks.translation.translating import Translated

    texts = text_chunks(args, CHUNK)
    translator = load(args, "rnnkit translate")
    for chunk in texts:
        wanted = [t for t in chunk if t.strip()]
        found = iter(translator.translations(wanted, backend=args.backend) if wanted else [])
        for text in chunk:
            translated = next(found) if text.strip() else Translated("", [], 0.0)
            if args.json:
                print_json(
                    {
                        "source": text,
                        "translation": translated.text,
                        "tokens": len(translated.tokens),
                        "log_prob": round(translated.log_prob, 4) if text.strip() else None,
                    }
                )
            else:
                print(translated.text, flush=args.input == "-")
    if plot is not None:
        from rnnkit.plotting import plot_attention

        text = args.texts[0]
        pieces, outputs, weights = translator.attention_of(text, translated)
        plot_attention(pieces, outputs, weights, str(plot))
        print(f"wrote {plot}", file=sys.stderr)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    translator = load(args, "rnnkit translate evaluate")
    direction = scored_direction(args, translator)
    splits = read_pairs(args, args.data, (translator.source, translator.target))
    named = len(args.data) == 1 and splits.valid is not None
    split = args.split or ("test" if named else "train")
    pairs: Pairs | None = getattr(splits, split)
    if pairs is None:
        raise ConfigError(
            f"--split {split} applies to a named dataset; {' '.join(args.data)} are the pairs "
            "to score: leave --split out"
        )
    found = translator.evaluate(pairs.source, pairs.target, backend=args.backend)
    found = {**found, "data": args.data, "split": split if named else None}
    found["source"], found["target"] = direction
    if args.json:
        print_json(found)
    else:
        print(f"{pairs.name}, {direction[0]} to {direction[1]}: {describe(found)}")
        for name in ("bleu", "bleu_lc", "chrf"):
            print(f"  {name}: {found[f'{name}_signature']}")
    return 0


TEXT = Command(
    "translate sentences (rnnkit translate MODEL [TEXT ...])",
    wrapped(
        "Translate sentences with a translator bundle (rnnkit translate train --out): the TEXT "
        "arguments, or each line of --input (order kept; an empty line gives an empty "
        "translation). One translation per line on standard output, or with --json one JSON "
        "object per line."
    ),
    add_text,
    run_text,
    epilog='examples:\n  rnnkit translate models/de-en "Ein Hund rennt über die Wiese."\n'
    "  rnnkit translate models/de-en --input test.de --beam 5 > test.en\n"
    '  rnnkit translate models/de-en "Zwei Männer." --plot-attention attention.png',
    takes_texts=True,
)
EVALUATE = Command(
    "score a translator: BLEU, lower-cased BLEU, chrF",
    wrapped(
        "Translate the source side of DATA and score the translations against the target side "
        "with sacreBLEU: BLEU (cased, detokenized), BLEU of lower-cased text (what published "
        "Multi30k figures report) and chrF, each with its signature."
    )
    + "\n\n"
    + DATA_HELP
    + "\n\nA named dataset is scored on its test split unless --split says otherwise.",
    add_evaluate,
    run_evaluate,
)
