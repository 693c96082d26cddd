"""The README documents every setting (and no setting that does not exist)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from envqa.core.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def setting_variables() -> set[str]:
    names = set()
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        names |= {f"ENVQA_{section}_{name}".upper() for name in model.model_fields}
    return names


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"^\| `(ENVQA_[A-Z_]+)` \|", README, flags=re.M))
    assert documented == setting_variables()


def test_readme_opens_with_the_two_commands() -> None:
    block = README.split("```")[1]
    assert [line.split()[:2] for line in block.strip().splitlines()] == [["make", "run"], ["make", "test"]]
