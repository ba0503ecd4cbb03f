"""A training DataLoader that Lightning can checkpoint and resume mid-epoch.

Lightning (2.x) stores ``state_dict()`` of any train loader that has one in every checkpoint
and, when a fit restarts mid-epoch, calls ``load_state_dict()`` before iterating. Lightning
keeps counting the restarted epoch's batches but re-iterates the loader from its start, so the
loader itself must skip the batches the killed run already used: its sampler (in memory) or
its streaming dataset does. The batch count comes from the trainer's own progress (the
loader's iterator runs ahead of training by Lightning's prefetch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader

#: () -> (epoch, batches of that epoch fully used, whether the last one was the epoch's last)
Progress = Callable[[], tuple[int, int, bool]]


class ResumableLoader(DataLoader):
    """A DataLoader whose state is (epoch, batches used); its sampler or dataset has ``resume``."""

    progress: Progress | None = None  # set by the data module (it knows the trainer)

    def state_dict(self) -> dict[str, Any]:
        epoch, used, last = self.progress() if self.progress is not None else (0, 0, False)
        return {"epoch": int(epoch), "batches": int(used), "epoch_done": bool(last)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        epoch, used = int(state_dict["epoch"]), int(state_dict["batches"])
        if state_dict.get("epoch_done"):  # saved on the epoch's last batch: the next epoch starts afresh
            epoch, used = epoch + 1, 0
        target = self.sampler if hasattr(self.sampler, "resume") else self.dataset
        target.resume(epoch, used)  # type: ignore[union-attr]
