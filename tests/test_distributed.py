"""sklattn on a Dask cluster through joblib, and what workers receive and report.

One ``LocalCluster`` (2 worker processes, 1 thread each, loopback only) serves
every test of the module and is shut down at the end; each test has a timeout
so a stuck cluster fails the run instead of hanging it.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import pickle
import socket

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from skorch.callbacks import Callback

from sklattn import AttentionClassifier

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.timeout(120)

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
    # Workers import sklattn (torch, transformers) while the first test fits locally.
    warm_up = [client.submit(importlib.import_module, "sklattn", workers=[address], pure=False)
               for address in client.scheduler_info()["workers"]]
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
    fitted_size = len(pickle.dumps(clone(clf).fit(X, y)))
    assert unfitted_size < 4_000
    assert fitted_size > 50 * unfitted_size  # the weights; the tiny BERT alone is ~100 kB
    # a search clones what it sends, so even a fitted estimator travels as parameters
    assert len(pickle.dumps(clone(clf.fit(X, y)))) == unfitted_size
