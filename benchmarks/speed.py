"""Speed of sklattn against what users would otherwise write, measured in one run.

1. Fit throughput (samples/s): ``AttentionClassifier.fit`` vs a hand-written
   transformers + torch loop with dynamic padding (goal >= 1.0x) and with
   every batch padded to ``max_length`` (skorch's Hugging Face recipe, goal >= 1.5x).
2. Predict throughput (texts/s): ``predict_proba`` vs sentence-transformers
   ``encode`` on the same checkpoint and texts, fp32 and bf16 (goal >= 1.2x).
3. ``GridSearchCV`` over head-only parameters with ``finetune="head"``: wall time
   with ``feature_cache=True`` vs ``False`` (goal >= 5x), same best parameters.
4. Achieved training FLOP/s as a share of this machine's matmul peak (measured
   here with large ``torch.matmul``), fp32 and bf16.

all-MiniLM-L6-v2 (``sklattn.datasets.minilm_path``) on Rotten Tomatoes snippets
(``load_rotten_tomatoes``); both sides use the same model, texts, batch size and
number of optimizer steps. Each side runs ``--repeats`` times, interleaved, and
keeps its fastest run; runs during which other processes used more than 10% of
the CPU are flagged NOISY.

Run (about 9 minutes on 2 idle cores; needs ``pip install -e ".[bench]"``)::

    python benchmarks/speed.py            # all four, prints a markdown table
    python benchmarks/speed.py --quick    # tiny sizes, for development (ratios meaningless)
    python benchmarks/speed.py --only 2 4
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, replace

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _baselines import hand_written_fit, sentence_transformer, st_encode  # noqa: E402
from _timing import (  # noqa: E402
    Row,
    Run,
    compare,
    core_count,
    describe_cpu,
    load_average,
    markdown_table,
    timed,
)
from skorch.callbacks import Callback  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from sklattn import AttentionClassifier, clear_feature_cache  # noqa: E402
from sklattn._core.precision import auto_precision, cpu_bf16_support, timed_bf16_speedup  # noqa: E402
from sklattn.datasets import load_rotten_tomatoes, minilm_path  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    fit_texts: int = 256
    predict_texts: int = 512
    grid_texts: int = 450
    grid_epochs: int = 3
    # bf16 runs ~15x slower than fp32 on CPUs without bf16 units: fewer texts, same batches.
    predict_bf16_texts: int = 96
    bf16_fit_texts: int = 32
    max_length: int = 128
    batch_size: int = 32
    repeats: int = 3
    matmul_n: int = 2048
    matmul_n_bf16: int = 1024


FULL = Sizes()
QUICK = Sizes(fit_texts=64, predict_texts=64, grid_texts=30, grid_epochs=1, predict_bf16_texts=16,
              bf16_fit_texts=32, repeats=2, matmul_n=256, matmul_n_bf16=128)
FIT_LR = 5e-5


class TokenCounter(Callback):
    """Counts real (attention-mask) and padded tokens of the training batches."""

    def on_train_begin(self, net, **kwargs) -> None:
        self.steps = self.real = self.padded = 0

    def on_batch_begin(self, net, batch=None, training=False, **kwargs) -> None:
        if training:
            mask = batch[0]["attention_mask"]
            self.steps += 1
            self.real += int(mask.sum())
            self.padded += mask.numel()


@dataclass
class Tokens:
    steps: int
    real: int
    padded: int


def sklattn_fit(checkpoint: str, texts, labels, sizes: Sizes, precision: str = "fp32"):
    """Fit an ``AttentionClassifier`` like the hand loop (1 epoch); returns (clf, Tokens)."""
    clf = AttentionClassifier(
        checkpoint, max_length=sizes.max_length, batch_size=sizes.batch_size, max_epochs=1,
        lr=FIT_LR, precision=precision, random_state=0, callbacks=[("tokens", TokenCounter())],
    )
    clf.fit(texts, labels)
    counter = dict(clf.callbacks_)["tokens"]
    return clf, Tokens(counter.steps, counter.real, counter.padded)


def hand_fit(checkpoint: str, texts, labels, sizes: Sizes, pad_to_max_length: bool,
             bf16: bool = False) -> Tokens:
    out = hand_written_fit(checkpoint, texts, labels, max_length=sizes.max_length,
                           batch_size=sizes.batch_size, epochs=1, lr=FIT_LR,
                           pad_to_max_length=pad_to_max_length, bf16=bf16)
    return Tokens(out.steps, out.real_tokens, out.padded_tokens)


def _noise(*sides) -> float:
    return max(side.best.others_share for side in sides)


def _tokens_line(name: str, tokens: Tokens) -> str:
    return (f"    {name:<36s} {tokens.steps} steps, {tokens.padded:,} padded tokens for "
            f"{tokens.real:,} real ({tokens.padded / tokens.real:.2f}x)")


# --------------------------------------------------------------- benchmarks
def bench_fit(checkpoint: str, texts, labels, sizes: Sizes):
    n = len(texts)
    print(f"\n1. Fit throughput: {n} texts, max_length {sizes.max_length}, batch {sizes.batch_size}, "
          "1 epoch, fp32; times include loading the model and tokenizing", flush=True)
    sides = compare({
        "sklattn AttentionClassifier.fit": lambda: sklattn_fit(checkpoint, texts, labels, sizes),
        "hand loop, dynamic padding": lambda: hand_fit(checkpoint, texts, labels, sizes, False),
        "hand loop, padded to max_length": lambda: hand_fit(checkpoint, texts, labels, sizes, True),
    }, sizes.repeats)
    ours, dynamic, padded = sides.values()
    auto = auto_precision("cpu")
    default = ours
    if auto != "fp32":  # the default fit differs from the fp32 one: time it too
        default = compare({f"sklattn fit default (auto={auto})":
                           lambda: sklattn_fit(checkpoint, texts, labels, sizes, "auto"),
                           "hand loop, dynamic padding (again)":
                           lambda: hand_fit(checkpoint, texts, labels, sizes, False)},
                          sizes.repeats)
        default, dynamic_again = default.values()
    clf, our_tokens = ours.best.result
    for side, tokens in ((ours, our_tokens), (dynamic, dynamic.best.result), (padded, padded.best.result)):
        print(_tokens_line(side.name, tokens))
    if len({our_tokens.steps, dynamic.best.result.steps, padded.best.result.steps}) != 1:
        raise RuntimeError("the sides took different numbers of optimizer steps")
    rate = {name: n / side.best.seconds for name, side in sides.items()}
    rows = [
        Row("1a fit fp32 vs hand loop, dynamic padding", f"{rate[ours.name]:.1f} samples/s",
            f"{rate[dynamic.name]:.1f} samples/s", rate[ours.name] / rate[dynamic.name], 1.0,
            _noise(ours, dynamic)),
        Row("1b fit fp32 vs hand loop, padded to max_length", f"{rate[ours.name]:.1f} samples/s",
            f"{rate[padded.name]:.1f} samples/s", rate[ours.name] / rate[padded.name], 1.5,
            _noise(ours, padded)),
    ]
    if auto == "fp32":
        rows.append(Row("1c fit default (auto -> fp32) vs hand loop fp32, dynamic padding",
                        f"{rate[ours.name]:.1f} samples/s", f"{rate[dynamic.name]:.1f} samples/s",
                        rate[ours.name] / rate[dynamic.name], 1.5, _noise(ours, dynamic)))
    else:
        ratio = dynamic_again.best.seconds / default.best.seconds
        rows.append(Row(f"1c fit default (auto -> {auto}) vs hand loop fp32, dynamic padding",
                        f"{n / default.best.seconds:.1f} samples/s",
                        f"{n / dynamic_again.best.seconds:.1f} samples/s", ratio, 3.0,
                        _noise(default, dynamic_again)))
    return rows, clf, ours


def bench_predict(checkpoint: str, clf, texts, labels, sizes: Sizes):
    print(f"\n2. Predict throughput: max_length {sizes.max_length}, batch {sizes.batch_size}; "
          f"{sizes.predict_texts} texts fp32, the first {sizes.predict_bf16_texts} of them bf16", flush=True)
    st = sentence_transformer(checkpoint, sizes.max_length)
    rows, probas = [], {}
    for precision, n in (("fp32", sizes.predict_texts), ("bf16", sizes.predict_bf16_texts)):
        bf16 = precision == "bf16"
        subset = texts[:n]
        text_list = [str(t) for t in subset]
        clf.set_params(precision=precision)
        sides = compare({
            f"sklattn predict_proba {precision}": lambda: clf.predict_proba(subset),
            f"SentenceTransformer.encode {precision}": lambda: st_encode(st, text_list, sizes.batch_size, bf16),
        }, sizes.repeats)
        ours, ref = sides.values()
        probas[precision] = ours.best.result
        rows.append(Row(f"2{'ab'[bf16]} predict {precision} vs sentence-transformers encode",
                        f"{n / ours.best.seconds:.1f} texts/s", f"{n / ref.best.seconds:.1f} texts/s",
                        ref.best.seconds / ours.best.seconds, 1.2, _noise(ours, ref)))
        if precision == "fp32":
            st_fp32 = sizes.predict_texts / ref.best.seconds
    n = sizes.predict_bf16_texts
    diff = np.abs(probas["fp32"][:n] - probas["bf16"]).max()
    agree = (probas["fp32"][:n].argmax(1) == probas["bf16"].argmax(1)).mean()
    print(f"    bf16 vs fp32 predictions on {n} texts: max |Δ probability| {diff:.4f}, same class {agree:.1%}")

    # int8: dynamically quantized Linear layers, against sentence-transformers fp32.
    text_list = [str(t) for t in texts]
    clf.set_params(precision="int8")
    sides = compare({
        "sklattn predict_proba int8": lambda: clf.predict_proba(texts),
        "SentenceTransformer.encode fp32": lambda: st_encode(st, text_list, sizes.batch_size, False),
    }, sizes.repeats)
    ours, ref = sides.values()
    int8 = ours.best.result
    n = len(texts)
    rows.append(Row("2c predict int8 vs sentence-transformers encode fp32",
                    f"{n / ours.best.seconds:.1f} texts/s", f"{n / ref.best.seconds:.1f} texts/s",
                    ref.best.seconds / ours.best.seconds, 2.0, _noise(ours, ref)))
    classes = clf.classes_
    acc = {name: float((classes[p.argmax(1)] == labels).mean()) for name, p in
           (("fp32", probas["fp32"]), ("int8", int8))}
    print(f"    int8 vs fp32 on {n} held-out texts: accuracy {acc['int8']:.4f} vs {acc['fp32']:.4f} "
          f"({100 * (acc['int8'] - acc['fp32']):+.2f} points), same class "
          f"{(int8.argmax(1) == probas['fp32'].argmax(1)).mean():.1%}, "
          f"max |Δ probability| {np.abs(int8 - probas['fp32']).max():.4f}")

    # The default: what precision="auto" chose on this machine.
    auto = auto_precision("cpu")
    ours_rate = float(rows[0 if auto == "fp32" else 1].ours.split()[0])
    rows.append(Row(f"2d predict default (auto -> {auto}) vs sentence-transformers encode fp32",
                    f"{ours_rate:.1f} texts/s", f"{st_fp32:.1f} texts/s", ours_rate / st_fp32,
                    1.2 if auto == "fp32" else 2.5, rows[0 if auto == "fp32" else 1].others_share))
    clf.set_params(precision="fp32")
    return rows


def bench_grid(checkpoint: str, texts, labels, sizes: Sizes):
    grid = {"lr": [1e-3, 3e-3], "class_weight": [None, "balanced"]}
    print(f"\n3. GridSearchCV, finetune='head': {len(texts)} texts, {grid}, cv=3, "
          f"max_epochs {sizes.grid_epochs}, max_length {sizes.max_length}", flush=True)

    def search(cache: bool) -> GridSearchCV:
        if cache:
            clear_feature_cache()  # every timed run pays for filling the cache
        estimator = AttentionClassifier(
            checkpoint, finetune="head", feature_cache=cache, max_length=sizes.max_length,
            batch_size=sizes.batch_size, max_epochs=sizes.grid_epochs, random_state=0)
        return GridSearchCV(estimator, grid, cv=3, n_jobs=1).fit(texts, labels)

    sides = compare({"feature_cache=True": lambda: search(True),
                     "feature_cache=False": lambda: search(False)}, sizes.repeats)
    cached, uncached = sides.values()
    a, b = cached.best.result, uncached.best.result
    gap = np.abs(a.cv_results_["mean_test_score"] - b.cv_results_["mean_test_score"]).max()
    same = a.best_params_ == b.best_params_
    print(f"    best params cached {a.best_params_} (score {a.best_score_:.4f}), "
          f"uncached {b.best_params_} (score {b.best_score_:.4f}); "
          f"{'same' if same else 'DIFFERENT'} best params, max |Δ mean_test_score| {gap:.4f}")
    clear_feature_cache()
    return [Row("3 GridSearchCV head-only, cached vs uncached", f"{cached.best.seconds:.1f} s",
                f"{uncached.best.seconds:.1f} s", uncached.best.seconds / cached.best.seconds, 5.0,
                _noise(cached, uncached))]


def matmul_peak(n: int, dtype: torch.dtype, repeats: int = 5) -> dict[str, Run]:
    """Fastest of ``repeats`` n x n products per kernel; each ``result`` is FLOP/s (2 n^3 each).

    Two kernels: ``torch.matmul`` and ``F.linear`` (what the encoder's layers call).
    They differ in bf16 on CPUs without bf16 units: 2-D ``matmul`` then falls back
    to a slow generic loop while ``linear`` goes through oneDNN.
    """
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    kernels = {"torch.matmul": lambda: torch.matmul(a, b), "F.linear": lambda: F.linear(a, b)}
    runs = {}
    for name, kernel in kernels.items():
        kernel()  # warm-up: kernel selection, page faults
        best = min((timed(kernel) for _ in range(repeats)), key=lambda run: run.seconds)
        best.result = 2 * n**3 / best.seconds
        runs[name] = best
    return runs


def training_parameters(clf) -> int:
    """Weights every token passes through in matmuls: transformer layers + head.

    Embedding tables are lookups (no FLOPs per weight) and BERT's pooler runs once
    per text on [CLS] (and gets no gradient here), so both are left out.
    """
    encoder = clf.module_.encoder
    layers = sum(p.numel() for p in encoder.encoder.parameters())
    return layers + sum(p.numel() for p in clf.module_.head.parameters())


def measure_peaks(sizes: Sizes) -> dict[str, list[tuple[str, float]]]:
    """(kernel, FLOP/s) per precision, printed with the CPU share others used."""
    peaks = {}
    for precision, dtype, n, repeats in (("fp32", torch.float32, sizes.matmul_n, 10),
                                         ("bf16", torch.bfloat16, sizes.matmul_n_bf16, 3)):
        runs = matmul_peak(n, dtype, repeats)
        for kernel, run in runs.items():
            print(f"    {precision} {kernel:<12s} {n}x{n}: {run.result / 1e9:6.1f} GFLOP/s "
                  f"(best of {repeats}, {run.seconds * 1e3:.0f} ms, others used {run.others_share:.0%} "
                  f"of the CPU{'  NOISY' if run.noisy else ''})", flush=True)
        peaks[precision] = [(kernel, run.result) for kernel, run in runs.items()]
    return peaks


def bench_flops(checkpoint: str, texts, labels, sizes: Sizes, fp32_side=None):
    print("\n4. Training FLOP/s vs matmul peak (square products; the peak is the fastest kernel, "
          "measured before and after the fits)", flush=True)
    before = measure_peaks(sizes)
    bf16_texts, bf16_labels = texts[:sizes.bf16_fit_texts], labels[:sizes.bf16_fit_texts]
    sides = {}
    if fp32_side is None:
        sides.update(compare({"sklattn fit fp32": lambda: sklattn_fit(checkpoint, texts, labels, sizes)},
                             sizes.repeats))
    sides.update(compare({"sklattn fit bf16": lambda: sklattn_fit(checkpoint, bf16_texts, bf16_labels, sizes,
                                                                 "bf16")},
                         sizes.repeats))
    fp32 = fp32_side if fp32_side is not None else sides["sklattn fit fp32"]
    after = measure_peaks(sizes)
    peaks, peak_kernel = {}, {}
    for precision in before:
        kernel, peak = max((*before[precision], *after[precision]), key=lambda item: item[1])
        peak_kernel[precision], peaks[precision] = kernel, peak
    rows = []
    for precision, side in (("fp32", fp32), ("bf16", sides["sklattn fit bf16"])):
        clf, tokens = side.best.result
        n_params = training_parameters(clf)
        seconds = side.best.seconds
        useful = 6 * n_params * tokens.real / seconds
        executed = 6 * n_params * tokens.padded / seconds
        print(f"    {precision}: {tokens.steps} steps, {tokens.real:,} real / {tokens.padded:,} padded "
              f"tokens in {seconds:.1f} s; 6 x {n_params / 1e6:.2f}M params x tokens = "
              f"{useful / 1e9:.2f} GFLOP/s on real tokens ({useful / peaks[precision]:.1%} of peak), "
              f"{executed / 1e9:.2f} GFLOP/s on padded ({executed / peaks[precision]:.1%})")
        rows.append(Row(f"4{'ab'[precision == 'bf16']} training FLOP/s {precision} / matmul peak",
                        f"{useful / 1e9:.2f} GFLOP/s", f"peak {peaks[precision] / 1e9:.1f} GFLOP/s ({peak_kernel[precision]})",
                        useful / peaks[precision], None, side.best.others_share, as_percent=True))
    return rows


# --------------------------------------------------------------------- main
def split_data(sizes: Sizes):
    data = load_rotten_tomatoes()
    order = np.random.default_rng(0).permutation(len(data.data))
    cuts = np.cumsum([sizes.fit_texts, sizes.predict_texts, sizes.grid_texts])
    fit, predict, grid = np.split(order[:cuts[-1]], cuts[:-1])
    return ((data.data[fit], data.target[fit]), (data.data[predict], data.target[predict]),
            (data.data[grid], data.target[grid]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for development")
    parser.add_argument("--only", nargs="*", type=int, choices=[1, 2, 3, 4], default=[1, 2, 3, 4])
    parser.add_argument("--repeats", type=int, help="timed runs per side (default 3; quick 2)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.repeats:
        sizes = replace(sizes, repeats=args.repeats)

    torch.set_num_threads(core_count())
    print(describe_cpu())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    support = cpu_bf16_support()
    print(f"torch cpuinfo bf16 instructions: {', '.join(support.instructions) or 'none'}; oneDNN "
          f"{'on' if support.onednn else 'off'}; precision='auto' chooses "
          f"{auto_precision('cpu')} on this CPU ({support.reason}); a bf16 F.linear runs "
          f"{timed_bf16_speedup():.2f}x the speed of fp32 here")
    start = time.perf_counter()
    checkpoint = minilm_path()
    (fit_x, fit_y), (predict_x, predict_y), (grid_x, grid_y) = split_data(sizes)
    rows, clf, fp32_side = [], None, None
    if 1 in args.only:
        fit_rows, clf, fp32_side = bench_fit(checkpoint, fit_x, fit_y, sizes)
        rows += fit_rows
    if 2 in args.only:
        if clf is None:
            clf, _ = sklattn_fit(checkpoint, fit_x, fit_y, sizes)
        rows += bench_predict(checkpoint, clf, predict_x, predict_y, sizes)
    if 3 in args.only:
        rows += bench_grid(checkpoint, grid_x, grid_y, sizes)
    if 4 in args.only:
        rows += bench_flops(checkpoint, fit_x, fit_y, sizes, fp32_side)
    print(f"\nAll ratios measured in this run ({time.perf_counter() - start:.0f} s, "
          f"{'quick' if args.quick else 'full'} sizes, best of {sizes.repeats}; "
          f"load average now {load_average()}):\n")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
