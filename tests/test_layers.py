"""The layers contract in pyproject.toml holds: a wrong-way import fails `make test`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(script), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_layers_are_kept() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "One-way layers KEPT" in result.stdout


def test_a_wrong_way_import_breaks_the_contract(tmp_path: Path) -> None:
    """The contract is live: the same check over a config whose layers are reversed fails."""
    config = (ROOT / "pyproject.toml").read_text()
    start = config.index("layers = [")
    end = config.index("]", start)
    layers = [line.strip().rstrip(",") for line in config[start:end].splitlines()[1:] if line.strip()]
    reversed_config = config[:start] + "layers = [\n" + "".join(f"    {layer},\n" for layer in reversed(layers)) \
        + config[end:]
    (tmp_path / "pyproject.toml").write_text(reversed_config)
    result = lint_imports("--config", str(tmp_path / "pyproject.toml"))
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
