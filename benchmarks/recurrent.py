"""Training-step throughput of the recurrent layers on a padded batch of variable-length sequences.

    python benchmarks/recurrent.py    # prints the table, writes benchmarks/RESULTS.md and README.md

For a bidirectional LSTM and GRU (batch 128, time 100, lengths uniform in [50, 100], input 128,
hidden 256, 2 threads by default) it times one training step (forward and backward) of, in one
interleaved run:

- rnnkit fused: ``rnnkit.nn.LSTM(..., impl="fused")(x, lengths=lengths)``, exact;
- rnnkit reference: the readable loop over time, exact;
- torch packed: ``torch.nn.LSTM`` on ``pack_padded_sequence(..., enforce_sorted=False)``, exact;
- torch padded: ``torch.nn.LSTM`` on the padded tensor, ignoring the lengths (not exact: the
  reverse direction reads padding first, and the final states are those after the padding);
- torch kernel per length span: the exact alternative design (see ``loss_by_spans``).

and reports real (unpadded) tokens per second, the median over interleaved rounds, and the model
FLOP rate on real tokens (6 x gates x H x (I + H) FLOPs per token and direction for forward and
backward) beside the machine's fp32 matrix-multiply peak measured in the same run. Targets:
rnnkit fused at least 5x torch packed and at least 0.85x torch padded.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit.nn
from rnnkit.nn.masking import reverse_index, reverse_padded

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    README,
    interleaved_medians,
    machine_line,
    matmul_peak_gflops,
    replace_section,
    write_section,
)

TARGET_VS_PACKED = 5.0
TARGET_VS_PADDED = 0.85
GATES = {"lstm": 4, "gru": 3}


def loss_by_spans(
    cell: str, module: torch.nn.Module, x: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """The exact alternative to rnnkit's fused path that docs/design.md compares it with: sort by
    length and run the padded kernel once per span between consecutive distinct lengths, carrying
    the state of the sequences still running. (It skips putting outputs back in the original
    order, so it slightly flatters this alternative.)"""
    order = torch.argsort(lengths, descending=True)
    ordered, x = lengths[order], x[:, order]
    ends = sorted(set(ordered.tolist()))
    loss = x.new_zeros(())
    for suffix in ("", "_reverse"):
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        weights = [getattr(module, f"{name}_l0{suffix}") for name in names]
        xs = reverse_padded(x, reverse_index(ordered, x.shape[0])) if suffix else x
        state = [x.new_zeros(1, x.shape[1], module.hidden_size)] * (2 if cell == "lstm" else 1)
        start = 0
        for end in ends:
            active = int((ordered >= end).sum())
            state = [s[:, :active] for s in state]
            chunk = xs[start:end, :active]
            if cell == "lstm":
                out, *state = torch.lstm(chunk, state, weights, True, 1, 0.0, True, False, False)
            else:
                out, h = torch.gru(chunk, state[0], weights, True, 1, 0.0, True, False, False)
                state = [h]
            finished = ordered[:active] == end
            loss = loss + out.sum() + sum(s[:, finished].sum() for s in state)
            start = end
    return loss


def training_steps(
    cell: str, args: argparse.Namespace, x: torch.Tensor, lengths: torch.Tensor
) -> dict[str, Callable[[], object]]:
    """One closure per candidate, each running forward + backward of the same layer."""
    ours_cls = {"lstm": rnnkit.nn.LSTM, "gru": rnnkit.nn.GRU}[cell]
    torch_cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    theirs = torch_cls(args.input, args.hidden, bidirectional=True)
    fused = ours_cls(args.input, args.hidden, bidirectional=True, impl="fused")
    reference = ours_cls(args.input, args.hidden, bidirectional=True, impl="reference")
    fused.load_state_dict(theirs.state_dict())
    reference.load_state_dict(theirs.state_dict())
    x = x.requires_grad_(True)

    def loss_of(output: torch.Tensor, state: object) -> torch.Tensor:
        states = state if isinstance(state, tuple) else (state,)
        return output.sum() + sum(s.sum() for s in states)

    def step(module: torch.nn.Module, run: Callable[[], torch.Tensor]) -> Callable[[], object]:
        def go() -> None:
            module.zero_grad(set_to_none=True)
            x.grad = None
            run().backward()

        return go

    def ours(module: rnnkit.nn.RecurrentBase) -> Callable[[], torch.Tensor]:
        return lambda: loss_of(*module(x, lengths=lengths))

    def packed() -> torch.Tensor:
        output, state = theirs(pack_padded_sequence(x, lengths, enforce_sorted=False))
        return loss_of(output.data, state)

    def padded() -> torch.Tensor:
        return loss_of(*theirs(x))

    return {
        "rnnkit fused": step(fused, ours(fused)),
        "rnnkit reference": step(reference, ours(reference)),
        "torch packed": step(theirs, packed),
        "torch padded (ignores lengths)": step(theirs, padded),
        "torch kernel per length span": step(
            theirs, lambda: loss_by_spans(cell, theirs, x, lengths)
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--time", type=int, default=100, help="padded length T")
    parser.add_argument("--min-len", type=int, default=50, help="shortest sequence")
    parser.add_argument("--input", type=int, default=128, help="input size")
    parser.add_argument("--hidden", type=int, default=256, help="hidden size")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument("--cells", default="lstm,gru", help="comma-separated: lstm, gru")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-write", action="store_true", help="do not update RESULTS.md and README.md"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a target is missed"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    lengths = torch.randint(args.min_len, args.time + 1, (args.batch,))
    lengths[0] = args.time
    real_tokens = int(lengths.sum())
    x = torch.randn(args.time, args.batch, args.input)
    peak = matmul_peak_gflops()

    setup = (
        f"Bidirectional, one layer, batch {args.batch}, time {args.time} with lengths uniform in "
        f"[{args.min_len}, {args.time}] ({real_tokens:,} real of {args.time * args.batch:,} "
        f"padded tokens), input {args.input}, hidden {args.hidden}, float32, one training step "
        f"(forward + backward), median of {args.rounds} interleaved rounds. "
        f"Measured fp32 matrix-multiply peak: {peak:,.0f} GFLOP/s."
    )
    lines = [
        "## Recurrent layers: training-step throughput (`benchmarks/recurrent.py`)",
        "",
        f"Machine: {machine_line()}",
        "",
        setup,
        "",
        "| cell | implementation | exact | ms / step | real tokens / s | model GFLOP/s "
        "| vs torch packed | vs torch padded |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    verdicts: list[str] = []
    summary = [
        "| cell | rnnkit fused (exact) | torch packed (exact) | torch padded (ignores lengths) |",
        "|---|---:|---:|---:|",
    ]
    missed = False
    print(f"Machine: {machine_line()}\n{setup}\n", flush=True)
    for cell in args.cells.split(","):
        seconds = interleaved_medians(
            training_steps(cell, args, x.clone(), lengths), rounds=args.rounds
        )
        packed, padded = seconds["torch packed"], seconds["torch padded (ignores lengths)"]
        flops_per_token = 2 * 6 * GATES[cell] * args.hidden * (args.input + args.hidden)
        for name, value in seconds.items():
            exact = "no" if "ignores" in name else "yes"
            tokens_per_second = real_tokens / value
            row = (
                f"| {cell.upper()} | {name} | {exact} | {value * 1e3:,.0f} | "
                f"{tokens_per_second:,.0f} | {tokens_per_second * flops_per_token / 1e9:,.0f} | "
                f"{packed / value:.2f}x | {padded / value:.2f}x |"
            )
            lines.append(row)
            print(row, flush=True)
        fused = seconds["rnnkit fused"]
        summary.append(
            f"| {cell.upper()} | {real_tokens / fused:,.0f} | {real_tokens / packed:,.0f} | "
            f"{real_tokens / padded:,.0f} |"
        )
        for label, ratio, target in (
            ("torch packed", packed / fused, TARGET_VS_PACKED),
            ("torch padded", padded / fused, TARGET_VS_PADDED),
        ):
            missed |= ratio < target
            verdicts.append(
                f"- {cell.upper()}: rnnkit fused runs {ratio:.2f}x the speed of {label} "
                f"(target at least {target}x): {'met' if ratio >= target else 'MISSED'}"
            )
        needed = TARGET_VS_PACKED * real_tokens / packed * flops_per_token / 1e9
        step_gemm = matmul_peak_gflops(shape=(args.batch, args.hidden, GATES[cell] * args.hidden))
        verdicts.append(
            f"- {cell.upper()}: {TARGET_VS_PACKED}x torch packed needs {needed:,.0f} model GFLOP/s "
            f"on real tokens: {needed / peak:.0%} of the fp32 peak, and {needed / step_gemm:.0%} "
            f"of the {step_gemm:,.0f} GFLOP/s that the recurrent GEMM of one time step "
            f"({args.batch} x {args.hidden} by {args.hidden} x {GATES[cell] * args.hidden}) "
            "reaches alone."
        )
    print("\n".join(["", *verdicts]))
    if not args.no_write:
        write_section("recurrent", "\n".join([*lines, "", "Targets:", "", *verdicts]))
        replace_section(README, "recurrent-summary", "\n".join(summary))
        print("\nwrote benchmarks/RESULTS.md and the summary in README.md")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
