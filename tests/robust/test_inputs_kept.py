"""Nothing a run reads is lost: --out may not hold any input of any training command (DATA,
--valid, --test, --vectors, --encoder, --pretrain, --pretrain-config, --config), checked
before any data is read, and the model folder an --out names is left byte for byte as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import write_csv
from tests.robust.cli_batch import run_many
from tests.robust.conftest import Models
from tests.test_cli import TINY_OPTIONS, assert_user_error

SMALL_LM = ["--hidden", "8", "--embed-dim", "8", "--max-steps", "2"]
SMALL_TRANSLATOR = ["--unit", "word", "--hidden", "8", "--embed-dim", "8", "--max-steps", "2"]


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# (what the case reads from the model folder M that is also --out, the command line with M)
CASES = {
    "train --encoder M": ["train", "{data}", "--encoder", "{M}", "--tokenizer", "word"],
    "train --encoder FWD,M": ["train", "{data}", "--encoder", "{other},{M}"],
    "train --vectors M/...": ["train", "{data}", "--vectors", "{M}/model.safetensors"],
    "train --pretrain M": ["train", "{data}", "--pretrain", "{M}"],
    "train --pretrain X M": ["train", "{data}", "--pretrain", "{data}", "{M}"],
    "train --pretrain-config M/...": [
        *("train", "{data}", "--pretrain", "--pretrain-config", "{M}/metrics.json"),
    ],
    "train --valid M/...": ["train", "{data}", "--valid", "{M}/metrics.json"],
    "train --test M/...": ["train", "{data}", "--test", "{M}/metrics.json"],
    "train DATA=M": ["train", "{M}"],
    "train --config M/...": ["train", "{data}", "--config", "{M}/metrics.json"],
    "lm train CORPUS=M": ["lm", "train", "{M}", *SMALL_LM],
    "lm train --valid M/...": ["lm", "train", "{data}", "--valid", "{M}/config.json", *SMALL_LM],
    "lm train --test M/...": ["lm", "train", "{data}", "--test", "{M}/config.json", *SMALL_LM],
    "lm train --vectors M/...": [
        *("lm", "train", "{data}", "--unit", "word", "--vectors", "{M}/config.json", *SMALL_LM),
    ],
    "translate train DATA=M/...": [
        *("translate", "train", "{M}/config.json", "{M}/metrics.json", *SMALL_TRANSLATOR),
    ],
    "translate train --valid M/...": [
        *("translate", "train", "{pairs}", "{pairs}", "--valid", "{M}/config.json"),
        *("{M}/metrics.json", *SMALL_TRANSLATOR),
    ],
    "translate train --test M/...": [
        *("translate", "train", "{pairs}", "{pairs}", "--test", "{M}/config.json"),
        *("{M}/metrics.json", *SMALL_TRANSLATOR),
    ],
}


def test_no_training_command_replaces_a_folder_it_reads(models: Models, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", 60)
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("ein Hund\nzwei Katzen\n" * 20)
    commands, folders = [], []
    for number, parts in enumerate(CASES.values()):
        folder = tmp_path / f"m{number}"
        shutil.copytree(models.word_lm, folder)  # an rnnkit model folder: --out may replace it
        names = {"M": folder, "data": data, "pairs": pairs, "other": models.word_lm}
        line = [part.format(**names) for part in parts]
        commands.append([*line, *(TINY_OPTIONS if line[0] == "train" else []), "--out", folder])
        folders.append(folder)
    before = contents(models.word_lm)
    results = run_many(*([str(part) for part in command] for command in commands))
    for case, result, folder in zip(CASES, results, folders, strict=True):
        assert result.returncode == 2, (case, result.stderr)
        assert contents(folder) == before, case  # byte for byte, nothing added
        if "--config" not in case:  # read first: the JSON's keys are refused as options
            assert_user_error(result, f"--out {folder}: holds the input ")
        assert result.stdout == "", case


def test_the_inputs_of_a_run_are_every_path_option(tmp_path: Path) -> None:
    """--out is checked against each option that names a file the run reads, --encoder's
    comma-separated folders one by one."""
    import argparse

    from rnnkit.cli.resume import input_paths, saved_options

    args = argparse.Namespace(
        data="d.csv",
        valid=None,
        test="t.csv",
        vectors="v.txt",
        config="c.json",
        encoder="lm/forward, lm/backward",
        pretrain=["u1", "u2"],
        pretrain_config="p.json",
        data_dir="data",
    )
    assert input_paths(args) == [
        *("d.csv", "t.csv", "v.txt", "c.json", "lm/forward", "lm/backward"),
        *("u1", "u2", "p.json"),
    ]
    (tmp_path / "lm" / "forward").mkdir(parents=True)
    (tmp_path / "lm" / "backward").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        saved = saved_options(args)
    assert saved["encoder"] == f"{tmp_path}/lm/forward,{tmp_path}/lm/backward"  # resumable
