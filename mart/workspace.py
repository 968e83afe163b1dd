"""Where runtime state lives, and the file primitives every state change uses.

Layout under ``MART_WORKSPACE`` (default ``./workspace``)::

    datasets/<dataset>/versions/<NNNNNN>.parquet   immutable raw records of one version
    datasets/<dataset>/versions/<NNNNNN>.json      that version's metadata
    datasets/<dataset>/HEAD                        id of the current version
    builds/<N>/                                    one build: mart.duckdb, target/, build.json
    builds/current                                 id of the published build
    build.lock                                     held while a build runs

State changes are written to a temporary file and renamed into place, so a crash
leaves either the old or the new state, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mart.errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SAMPLE_DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Workspace:
    """A workspace root and the well-known paths inside it."""

    root: Path

    @classmethod
    def from_env(cls, root: str | os.PathLike[str] | None = None) -> Workspace:
        """The workspace named by ``root``, else ``MART_WORKSPACE``, else ``./workspace``."""
        chosen = root or os.environ.get("MART_WORKSPACE") or "workspace"
        path = Path(chosen).expanduser().resolve()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise InputError(f"The workspace {str(path)!r} is a file, not a folder.") from None
        except OSError as exc:
            raise InputError(
                f"The workspace folder {str(path)!r} cannot be used: {exc.strerror or exc}."
            ) from None
        return cls(path)

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def builds_dir(self) -> Path:
        return self.root / "builds"

    @property
    def lock_path(self) -> Path:
        return self.root / "build.lock"

    def dataset_dir(self, dataset: str) -> Path:
        return self.datasets_dir / dataset

    def build_dir(self, build_id: int) -> Path:
        return self.builds_dir / str(build_id)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    """Read a JSON file, or return ``default`` when it does not exist."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def project_vars(project_dir: str | os.PathLike[str] = DBT_PROJECT_DIR) -> dict[str, Any] | None:
    """The vars ``dbt_project.yml`` declares, with their defaults (None when unreadable)."""
    import yaml

    try:
        project = yaml.safe_load((Path(project_dir) / "dbt_project.yml").read_text())
        declared = project.get("vars") or {}
    except (OSError, AttributeError, yaml.YAMLError):
        return None
    return (
        {str(name): value for name, value in declared.items()}
        if isinstance(declared, dict)
        else None
    )
