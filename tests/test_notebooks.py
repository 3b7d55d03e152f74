"""nbval really guards the notebooks: a changed checked output fails the run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_prompts.ipynb"


def _run_nbval(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval",
            "--nbval-current-env",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=path.parent,
    )


def test_nbval_fails_when_a_checked_output_changes(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    tools_cell = next(c for c in nb.cells if c.cell_type == "code" and "TOOLS" in c.source)
    tools_cell.outputs[0]["text"] = "save_description: something else\n"
    tampered = tmp_path / "tampered.ipynb"
    nbformat.write(nb, tampered)
    result = _run_nbval(tampered)
    assert result.returncode != 0
    assert "failed" in result.stdout
