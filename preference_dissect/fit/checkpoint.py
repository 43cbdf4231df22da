"""Resumable fitting: each finished (judge, group) fit is saved beside the output.

``prefdissect fit ... --out fit.nc`` keeps ``fit.nc.partial/`` while it runs: ``run.json``
(the fit spec and a fingerprint of the features table) and one ``.npz`` per finished fit.
An interrupted run started again with the same features and settings picks up the saved
fits; the folder is removed once ``fit.nc`` is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.fit.cells import CellFit
from preference_dissect.io import atomic_path, write_json

ARRAYS = ("weight", "intercept", "sigma", "ppc_p_agree", "n_nonzero", "wide_mean")
#: Posterior draws, saved in float32: the type ``fit.nc`` stores them in (half the writing)
DRAWS = ("weight", "intercept", "sigma")


def table_fingerprint(frame: pd.DataFrame) -> str:
    """A hash of a features table's content."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:32]


class Checkpoint:
    """The ``<out>.partial`` folder of one fit run.

    Parameters
    ----------
    out : path
        The final output file.
    run_info : dict
        Everything that must match for saved fits to be reused (spec, features fingerprint).
    """

    def __init__(self, out: str | os.PathLike[str], run_info: dict[str, Any]) -> None:
        self.folder = Path(f"{out}.partial")
        self.run_info = json.loads(json.dumps(run_info, sort_keys=True))

    def _cell_path(self, judge: str, group: str) -> Path:
        key = hashlib.sha1(f"{judge}\x1f{group}".encode()).hexdigest()[:20]
        return self.folder / f"cell-{key}.npz"

    def load(self) -> dict[tuple[str, str], CellFit]:
        """Saved fits of a matching earlier run (an unmatched folder is cleared)."""
        info = self.folder / "run.json"
        if info.exists():
            try:
                same = json.loads(info.read_text(encoding="utf-8")) == self.run_info
            except ValueError:
                same = False
            if not same:
                shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(self.run_info, info)
        done: dict[tuple[str, str], CellFit] = {}
        for path in sorted(self.folder.glob("cell-*.npz")):
            try:
                with np.load(path, allow_pickle=False) as data:
                    meta = json.loads(str(data["meta"]))
                    arrays = {k: (data[k] if k in data.files else None) for k in ARRAYS}
            except (OSError, ValueError, KeyError):
                continue
            judge, group = meta.pop("judge"), meta.pop("group")
            done[(judge, group)] = CellFit(**arrays, **meta)
        return done

    def save(self, judge: str, group: str, cell: CellFit) -> None:
        """Save one finished fit atomically."""
        meta = {f.name: getattr(cell, f.name) for f in fields(cell) if f.name not in ARRAYS}
        meta.update(judge=judge, group=group)
        arrays = {k: getattr(cell, k) for k in ARRAYS if getattr(cell, k) is not None}
        arrays.update({k: arrays[k].astype(np.float32) for k in DRAWS if k in arrays})
        target = self._cell_path(judge, group)
        with atomic_path(target) as tmp, tmp.open("wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)

    def remove(self) -> None:
        """Delete the folder (after the final output is written)."""
        shutil.rmtree(self.folder, ignore_errors=True)
