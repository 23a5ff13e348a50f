"""Names of the special entries that sklattn batches carry next to the model inputs."""

from __future__ import annotations

# Per-sample loss weight: read by the loss, never passed to a module's forward.
SAMPLE_WEIGHT = "sample_weight"
