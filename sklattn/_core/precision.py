"""Which numeric precision a model runs in: ``precision="auto"`` and int8 prediction.

``"auto"`` resolves, on the machine and device that fits or predicts, to
``"bf16"`` (bfloat16 autocast) where the hardware runs bfloat16 matrix
products fast, and to ``"fp32"`` elsewhere:

- CUDA: bf16 when the device has native bfloat16 (compute capability 8.0 or
  newer, or ROCm), i.e. ``torch.cuda.is_bf16_supported(including_emulation=False)``.
- CPU: bf16 when the CPU has bfloat16 instructions (``amx_bf16`` or
  ``avx512_bf16`` on x86, ``bf16`` on ARM, as torch's own cpuinfo reports them
  in :func:`torch.cpu.get_capabilities`) and oneDNN, which runs torch's bf16
  ``linear`` on CPU, is built in, enabled and not held to an older ISA by
  ``ONEDNN_MAX_CPU_ISA``. Without such units bf16 autocast runs 8-20x slower
  than float32 (README, performance). The environment variable
  ``SKLATTN_CPU_BF16=0`` (or ``1``) overrides the answer, e.g. to pin one
  precision across a cluster of mixed machines.
- Other devices (MPS, XPU, ...): fp32.

The CPU answer is decided from these flags only, never from a timing, so two
processes on the same machine always agree (fits stay reproducible); it is
cached per process. ``timed_bf16_speedup`` measures the gain for the benchmarks. The weights always
stay float32: autocast only changes the dtype the matrix products run in,
so what is saved never depends on the precision, and a model resolves
``"auto"`` again wherever it predicts.

``"int8"`` is for prediction on CPU only: the ``torch.nn.Linear`` layers of
a copy of the network are replaced by dynamically quantized int8 ones
(weights quantized once per channel, activations per batch); training runs
as ``"auto"`` would.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import os
import time
import warnings
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import StrOptions

PRECISIONS = ("auto", "fp32", "bf16", "int8")
PRECISION_CONSTRAINT = StrOptions(set(PRECISIONS))

# bf16 is taken only when its timed linear is at least this much faster than
# fp32 (measured: ~5x with AMX, ~2x with AVX-512 BF16, ~0.1x without either).
CPU_BF16_ENV = "SKLATTN_CPU_BF16"


@dataclass(frozen=True)
class CpuBf16Support:
    """What this process's CPU and torch build offer for bfloat16.

    Attributes
    ----------
    instructions : tuple of str
        The bf16 instruction sets torch's cpuinfo reports (e.g. ``("amx_bf16",
        "avx512_bf16")``); empty without any.
    onednn : bool
        oneDNN (``torch.backends.mkldnn``) is built in and enabled.
    speedup : float or None
        Not used by the decision (always None here); kept for reports that
        time it with :func:`timed_bf16_speedup`.
    fast : bool
        What ``precision="auto"`` uses on this CPU: True means bf16.
    reason : str
        One sentence explaining ``fast``.
    """

    instructions: tuple[str, ...]
    onednn: bool
    speedup: float | None
    fast: bool
    reason: str


def cpu_capabilities() -> Mapping:
    """The CPU features torch detected (``torch.cpu.get_capabilities``); empty if unknown."""
    getter = getattr(torch.cpu, "get_capabilities", None)
    if getter is None:  # torch before 2.8
        return {}
    try:
        return getter()
    except Exception:  # an unusual platform: be conservative
        return {}


def bf16_instructions(capabilities: Mapping) -> tuple[str, ...]:
    """The bfloat16 instruction sets among ``capabilities`` (x86 AMX / AVX-512, ARM)."""
    names = ("amx_bf16", "avx512_bf16", "bf16", "sve_bf16")
    return tuple(name for name in names if capabilities.get(name))


def onednn_enabled() -> bool:
    """Whether torch's bf16 CPU ``linear`` can go through oneDNN in this process."""
    return bool(torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled)


def timed_bf16_speedup(rows: int = 512, width: int = 384, repeats: int = 5) -> float:
    """fp32 time / bf16 time of ``F.linear`` on a transformer-sized layer (0.1-0.3 s, once).

    The two precisions alternate and each keeps its best run, so a busy
    machine slows both alike.
    """
    generator = torch.Generator().manual_seed(0)
    x32 = torch.randn(rows, width, generator=generator)
    w32 = torch.randn(4 * width, width, generator=generator)
    x16, w16 = x32.bfloat16(), w32.bfloat16()
    best = {"fp32": float("inf"), "bf16": float("inf")}
    with torch.inference_mode():
        for _ in range(2):  # oneDNN builds its kernels, OpenMP its threads, on first calls
            F.linear(x32, w32), F.linear(x16, w16)
        for _ in range(repeats):
            for name, (x, w) in (("fp32", (x32, w32)), ("bf16", (x16, w16))):
                start = time.perf_counter()
                F.linear(x, w)
                best[name] = min(best[name], time.perf_counter() - start)
    return best["fp32"] / max(best["bf16"], 1e-9)


@lru_cache(maxsize=1)
def cpu_bf16_support() -> CpuBf16Support:
    """Decide once per process (cached): does bf16 autocast run fast on this CPU?"""
    instructions = bf16_instructions(cpu_capabilities())
    onednn = onednn_enabled()
    override = os.environ.get(CPU_BF16_ENV, "").strip()
    if override in ("0", "1"):
        return CpuBf16Support(instructions, onednn, None, override == "1",
                              f"{CPU_BF16_ENV}={override} is set")
    if not instructions:
        return CpuBf16Support((), onednn, None, False,
                              "the CPU has no bfloat16 instructions (amx_bf16, avx512_bf16)")
    if not onednn:
        return CpuBf16Support(instructions, False, None, False,
                              "oneDNN is not available or disabled (torch.backends.mkldnn)")
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if isa and isa != "ALL" and "BF16" not in isa and "AMX" not in isa:
        return CpuBf16Support(instructions, True, None, False,
                              f"ONEDNN_MAX_CPU_ISA={isa} keeps oneDNN from its bf16 kernels")
    return CpuBf16Support(instructions, True, None, True,
                          f"{'/'.join(instructions)} with oneDNN: native bf16 matrix products")


def cuda_bf16_supported(device: torch.device) -> bool:
    """Whether the CUDA (or ROCm) ``device`` has native bfloat16 (no emulation)."""
    if not torch.cuda.is_available():
        return False
    if torch.version.hip:
        return True
    index = device.index if device.index is not None else torch.cuda.current_device()
    return torch.cuda.get_device_properties(index).major >= 8


def auto_precision(device: str | torch.device) -> str:
    """What ``precision="auto"`` means on ``device`` here: ``"bf16"`` or ``"fp32"``."""
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if cuda_bf16_supported(device) else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_bf16_support().fast else "fp32"
    return "fp32"


def resolve_precision(precision: str, device: str | torch.device, *, training: bool) -> str:
    """The precision a fit (``training=True``) or a prediction runs in.

    Parameters
    ----------
    precision : {"auto", "fp32", "bf16", "int8"}
        The estimator's parameter.
    device : str or torch.device
        Where the model runs.
    training : bool
        True for fitting: ``"int8"`` then trains as ``"auto"`` (int8 is for
        prediction only).

    Returns
    -------
    {"fp32", "bf16", "int8"}
        ``"int8"`` only for prediction.

    Raises
    ------
    ValueError
        ``"int8"`` prediction on a device other than the CPU, or with a
        torch build without quantized CPU kernels.
    """
    if precision == "auto" or (precision == "int8" and training):
        return auto_precision(device)
    if precision == "int8":
        check_int8_available(device)
    return precision


def check_int8_available(device: str | torch.device) -> None:
    """Raise a ValueError naming the fix when int8 prediction cannot run on ``device``."""
    device = torch.device(device)
    if device.type != "cpu":
        raise ValueError(
            f"precision='int8' predicts on the CPU only (dynamically quantized int8 Linear "
            f"layers), but the model is on {device.type!r}. On a GPU use precision='auto' "
            "or 'bf16'; or move the model to the CPU with set_params(device='cpu') "
            "(sklattn.load(path, device='cpu') for a saved one)."
        )
    engines = [name for name in torch.backends.quantized.supported_engines if name != "none"]
    if not engines:
        raise ValueError(
            "precision='int8' needs torch's quantized CPU kernels (fbgemm, x86, onednn or "
            "qnnpack), which this torch build lacks; use precision='auto' or 'fp32'."
        )


# Quantized copies of float modules, dropped with the module; rebuilt when its
# parameters change (training steps bump every tensor's version counter).
_INT8_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _weights_version(module: torch.nn.Module) -> tuple:
    return tuple((id(p), p._version) for p in module.parameters())


def int8_module(module: torch.nn.Module) -> torch.nn.Module:
    """An eval-mode copy of ``module`` with int8 dynamically quantized ``nn.Linear`` layers.

    The copy is cached while ``module`` and its weights stay the same, so
    repeated predictions quantize once. ``module`` itself is not changed.

    Built with torch's own dynamic quantization kernels
    (``quantized::linear_dynamic``, fbgemm/oneDNN), reached through
    ``torch.ao.quantization.quantize_dynamic``. torch marks that eager API as
    deprecated in favour of torchao's ``quantize_``, but torchao's int8
    dynamic-activation path is built for ``torch.compile``: measured here
    (torch 2.13, torchao 0.18, all-MiniLM-L6-v2, eager, one thread) it ran
    0.85x the speed of float32, while these kernels ran 2.2x. If a later torch
    removes the API, this function is the one place to change.
    """
    version = _weights_version(module)
    cached = _INT8_COPIES.get(module)
    if cached is not None and cached[0] == version:
        return cached[1]
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:
        raise ValueError(
            f"precision='int8' needs torch.ao.quantization.quantize_dynamic, which torch "
            f"{torch.__version__} no longer has; use precision='auto' or 'fp32'."
        )
    float_copy = copy.deepcopy(module).to("cpu").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor", category=UserWarning)
        quantized = quantize_dynamic(float_copy, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    _INT8_COPIES[module] = (version, quantized)
    return quantized


# The precision of the fit running in this context (None outside fits). The
# forward passes of training and validation read it; predictions choose
# theirs per call (see ``resolve_precision``).
_TRAINING_PRECISION: contextvars.ContextVar = contextvars.ContextVar(
    "sklattn_training_precision", default=None
)


@contextlib.contextmanager
def training_precision(precision: str) -> Iterator[None]:
    """Run the forward passes of a fit inside this block in ``precision``."""
    token = _TRAINING_PRECISION.set(precision)
    try:
        yield
    finally:
        _TRAINING_PRECISION.reset(token)


def current_training_precision() -> str | None:
    """The precision of the fit running here, or None outside a fit."""
    return _TRAINING_PRECISION.get()
