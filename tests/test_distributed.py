"""Scaling out: searches on a Dask cluster through joblib, and accelerate training.

One ``LocalCluster`` (2 worker processes, 1 thread each, loopback only) serves
the Dask tests and is shut down at the end; every test has a timeout so a stuck
cluster fails the run instead of hanging it. The accelerate tests check that
gradient accumulation and two data-parallel CPU processes train exactly like
one process with the larger batch.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys

import joblib
import numpy as np
import pytest
import torch
from conftest import make_sentiment_texts
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from skorch.callbacks import Callback

from sklattn import AttentionClassifier

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.timeout(180)  # a hung cluster fails; a busy 2-core machine needs ~60 s

FAST = dict(max_length=16, batch_size=16, max_epochs=2, random_state=0)


class RecordWorker(Callback):
    """Record, in ``history_``, which process trained and with how many torch threads."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("pid", os.getpid())
        net.history.record("torch_threads", torch.get_num_threads())


def close_workers(cluster) -> None:
    """Stop the worker processes, giving each up to 60 s.

    ``cluster.close()`` allows 4 s before killing a worker; tearing down a
    process that imported torch takes longer than that on a busy machine.
    """
    async def close_all():
        await asyncio.gather(*(nanny.close(timeout=60) for nanny in cluster.workers.values()))

    cluster.sync(close_all)


@pytest.fixture(scope="module")
def dask_client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, timeout=60,
    )
    client = distributed.Client(cluster, timeout=60)
    worker_pids = set(client.run(os.getpid).values())
    # Workers import sklattn (torch, transformers) before any test sends them work: a
    # task unpickled on the event loop thread while the warm-up still imported joblib on
    # the executor thread once deadlocked on joblib's module lock (a full-suite CI run).
    warm_up = [client.submit(importlib.import_module, "sklattn", workers=[address], pure=False)
               for address in client.scheduler_info()["workers"]]
    distributed.wait(warm_up, timeout=300)
    yield client, worker_pids
    del warm_up
    client.close(timeout=30)
    close_workers(cluster)
    cluster.close(timeout=30)
    assert cluster.status == distributed.core.Status.closed
    import psutil  # a dependency of distributed

    alive = [pid for pid in worker_pids if psutil.pid_exists(pid)
             and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"worker processes {alive} outlived the cluster"


def test_grid_search_on_dask_equals_sequential_search(dask_client, tiny_checkpoint, sentiment_data):
    client, _ = dask_client
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, **FAST)
    grid = {"lr": [1e-7, 2e-3]}
    # log loss, not accuracy: a float score shows any numeric difference between processes
    sequential = GridSearchCV(clf, grid, cv=2, scoring="neg_log_loss", refit=False, n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        remote = GridSearchCV(clf, grid, cv=2, scoring="neg_log_loss", refit=False).fit(X, y)
    assert len(tasks.data) > 0  # the fits ran on the cluster, not in this process
    assert remote.best_params_ == sequential.best_params_ == {"lr": 2e-3}
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_allclose(remote.cv_results_[key], sequential.cv_results_[key], rtol=1e-5)


def test_workers_train_with_the_thread_count_their_environment_sets(dask_client, tiny_checkpoint, sentiment_data):
    client, worker_pids = dask_client
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1}, callbacks=[RecordWorker()])
    with joblib.parallel_backend("dask"):
        fitted = cross_validate(clf, X, y, cv=2, return_estimator=True)["estimator"]
    # dask's nanny sets OMP_NUM_THREADS before a worker starts (1 unless the environment
    # that starts the cluster sets it), and torch reads it at import.
    default = dask.config.get("distributed.nanny.pre-spawn-environ")["OMP_NUM_THREADS"]
    expected = int(os.environ.get("OMP_NUM_THREADS", default))
    for estimator in fitted:
        assert estimator.history_[-1, "pid"] in worker_pids
        assert estimator.history_[-1, "torch_threads"] == expected


def test_missing_checkpoint_on_a_worker_names_host_worker_and_path(dask_client, tmp_path, sentiment_data):
    X, y = sentiment_data
    missing = tmp_path / "not-on-this-worker"
    clf = AttentionClassifier(str(missing), **FAST)
    with joblib.parallel_backend("dask"), pytest.raises(ValueError) as error:
        cross_val_score(clf, X, y, cv=2, error_score="raise")
    message = str(error.value)
    assert f"checkpoint directory {str(missing)!r} does not exist" in message
    assert f"on host {socket.gethostname()!r} (dask worker tcp://127.0.0.1:" in message
    assert "path all workers share" in message


def test_estimator_sent_to_workers_holds_parameters_only(tiny_checkpoint, sentiment_data):
    X, y = sentiment_data
    clf = AttentionClassifier(tiny_checkpoint, **{**FAST, "max_epochs": 1})
    unfitted_size = len(pickle.dumps(clf))
    assert unfitted_size < 4_000
    assert len(pickle.dumps(clf.fit(X, y))) > 50 * unfitted_size  # the weights: the tiny BERT is ~100 kB
    # a search clones what it sends, so even a fitted estimator travels as parameters
    assert len(pickle.dumps(clone(clf))) == unfitted_size


# ------------------------------------------------------------------ accelerate
# Equal updates need equal batches: no dropout (masks differ between one batch of 16 and
# two of 8), no shuffling and no length grouping (batches of 8 must be halves of those of 16).
EXACT = dict(max_length=16, max_epochs=2, random_state=0, lr=1e-3, dropout=0.0,
             group_by_length=False, iterator_train__shuffle=False)
# Split batches equal whole ones for per-text losses only: the pair objective of
# contrastive_weight spans the pairs of one batch, and two halves hold fewer pairs.
PER_TEXT_LOSS = {**EXACT, "contrastive_weight": 0}


@pytest.fixture(scope="module")
def dropout_free_checkpoint(tiny_checkpoint, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("tiny-bert-no-dropout")
    shutil.copytree(tiny_checkpoint, path, dirs_exist_ok=True)
    config = json.loads((path / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (path / "config.json").write_text(json.dumps(config))
    return str(path)


@pytest.fixture
def accelerate():
    """The accelerate module, with its process-wide state reset before and after the test."""
    module = pytest.importorskip("accelerate")
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    yield module
    AcceleratorState._reset_state(True)
    GradientState._reset_state()


def flat_weights(estimator) -> np.ndarray:
    return torch.cat([p.detach().flatten() for p in estimator.module_.parameters()]).numpy()


def test_gradient_accumulation_equals_one_batch_twice_the_size(dropout_free_checkpoint, accelerate):
    from sklattn.accelerate import AcceleratedClassifier

    X, y = make_sentiment_texts(32, seed=1)
    big_batch = AttentionClassifier(dropout_free_checkpoint, batch_size=16, **PER_TEXT_LOSS).fit(X, y)
    small_batch = AttentionClassifier(dropout_free_checkpoint, batch_size=8, **PER_TEXT_LOSS).fit(X, y)
    accelerator = accelerate.Accelerator(gradient_accumulation_steps=2, cpu=True)
    accumulated = AcceleratedClassifier(
        dropout_free_checkpoint, accelerator=accelerator, batch_size=8, **PER_TEXT_LOSS
    ).fit(X, y)
    assert not np.allclose(flat_weights(small_batch), flat_weights(big_batch), atol=1e-4)  # the test can tell
    np.testing.assert_allclose(flat_weights(accumulated), flat_weights(big_batch), atol=1e-6)
    # optimizer steps, not micro-batches, drive the schedule: 2 per epoch, as with batch 16
    assert dict(accumulated.callbacks_)["lr_schedule"].total_steps_ == 4
    np.testing.assert_allclose(accumulated.predict_proba(X), big_batch.predict_proba(X), atol=1e-6)
    assert accumulated.history_[-1, "lr"] == big_batch.history_[-1, "lr"]
    assert pickle.loads(pickle.dumps(accumulated)).predict(X).tolist() == accumulated.predict(X).tolist()


def test_accelerated_training_applies_the_pair_objective(dropout_free_checkpoint, accelerate):
    from sklattn.accelerate import AcceleratedClassifier

    X, y = make_sentiment_texts(32, seed=1)
    fits = {
        weight: AcceleratedClassifier(
            dropout_free_checkpoint, accelerator=accelerate.Accelerator(cpu=True), batch_size=16,
            **{**EXACT, "contrastive_weight": weight},
        ).fit(X, y)
        for weight in (0, 2.0)
    }
    plain = AttentionClassifier(dropout_free_checkpoint, batch_size=16, **{**EXACT, "contrastive_weight": 2.0}).fit(X, y)
    assert fits[2.0].contrastive_weight_ == 2.0
    assert not np.allclose(flat_weights(fits[2.0]), flat_weights(fits[0]), atol=1e-4)
    np.testing.assert_allclose(flat_weights(fits[2.0]), flat_weights(plain), atol=1e-6)


DATA_PARALLEL_SCRIPT = """
import sys
import numpy as np, torch
from accelerate import Accelerator
from conftest import make_sentiment_texts
from sklattn.accelerate import AcceleratedClassifier

checkpoint, out, params = sys.argv[1], sys.argv[2], eval(sys.argv[3])
accelerator = Accelerator(cpu=True)
assert accelerator.num_processes == 2, accelerator.num_processes
X, y = make_sentiment_texts(32, seed=1)
clf = AcceleratedClassifier(checkpoint, accelerator=accelerator, batch_size=8, **params).fit(X, y)
rank = accelerator.process_index
np.save(f"{out}/weights{rank}.npy", torch.cat([p.detach().flatten() for p in clf.module_.parameters()]).numpy())
np.save(f"{out}/proba{rank}.npy", clf.predict_proba(X[:30]))  # 30: batches uneven across processes
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_cpu_processes_train_like_one_with_twice_the_batch(dropout_free_checkpoint, accelerate, tmp_path):
    # accelerate launch --cpu starts one process unless MPI is set up; torchrun starts two
    # and accelerate's Accelerator(cpu=True) joins them over gloo.
    script = tmp_path / "train.py"
    script.write_text(DATA_PARALLEL_SCRIPT)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(port),
               str(script), dropout_free_checkpoint, str(tmp_path), repr(PER_TEXT_LOSS)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stderr[-3000:]
    X, y = make_sentiment_texts(32, seed=1)
    one_process = AttentionClassifier(dropout_free_checkpoint, batch_size=16, **PER_TEXT_LOSS).fit(X, y)
    weights = [np.load(tmp_path / f"weights{rank}.npy") for rank in (0, 1)]
    np.testing.assert_array_equal(weights[0], weights[1])  # the processes stay in sync
    np.testing.assert_allclose(weights[0], flat_weights(one_process), atol=1e-6)
    for rank in (0, 1):  # each process gets every prediction, in input order
        np.testing.assert_allclose(np.load(tmp_path / f"proba{rank}.npy"), one_process.predict_proba(X[:30]), atol=1e-6)
