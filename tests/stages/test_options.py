"""Option declarations: coercion of CLI/TOML values, the error a user sees, the key split, and the
catalog's register/order rules."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from stages import catalog
from stages.base import stage_keys
from stages.options import ConfigError, coerce, option, split_config


@dataclass(frozen=True)
class Opts:
    name: ClassVar[str] = "opts"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset()
    scope: ClassVar[str] = "document"
    n: int = option(3, "a count", minimum=1)
    ratio: float = option(0.5, "a ratio", role="decide", minimum=0, maximum=1)
    mode: str = option("a", "a mode", choices=("a", "b"))
    flag: bool = option(False, "a flag")
    names: tuple[str, ...] = option((), "names")
    label: str | None = option(None, "an optional label")

    def apply(self, docs: Any, res: Any = None) -> Any:
        raise NotImplementedError


@pytest.mark.parametrize("name,value,expected", [
    ("n", "7", 7), ("n", 7, 7), ("ratio", "0.25", 0.25), ("ratio", 1, 1.0), ("mode", "b", "b"),
    ("flag", "true", True), ("flag", False, False), ("names", ["x", "y"], ("x", "y")), ("names", "x", ("x",)),
    ("label", None, None), ("label", "L", "L"),
])
def test_coerce_accepts_cli_strings_and_toml_values(name: str, value: Any, expected: Any) -> None:
    assert coerce(Opts, "opts", name, value) == expected


@pytest.mark.parametrize("name,value,message", [
    ("n", "thirty", "option 'n' accepts an integer >= 1; got 'thirty'"),
    ("n", 0, "accepts an integer >= 1; got 0"),
    ("n", True, "accepts an integer >= 1; got True"),
    ("n", 2.5, "got 2.5"),
    ("ratio", 2, "option 'ratio' accepts a number in [0, 1]; got 2"),
    ("ratio", "nan", "got 'nan'"),
    ("mode", "c", "option 'mode' accepts one of a, b; got 'c'"),
    ("flag", "maybe", "accepts true or false"),
    ("names", [1], "accepts a list of strings"),
    ("label", 5, "accepts a string (or unset)"),
])
def test_coerce_refuses_with_the_option_and_what_it_accepts(name: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        coerce(Opts, "opts", name, value)
    assert message in str(err.value)


def test_decide_options_stay_out_of_the_scoring_key() -> None:
    assert split_config(Opts(ratio=0.1)) == ({"n": 3, "mode": "a", "flag": False, "names": [], "label": None}, {"ratio": 0.1})
    assert stage_keys(Opts(ratio=0.1))[0] == stage_keys(Opts())[0] != stage_keys(Opts(n=4))[0]
    assert stage_keys(Opts(ratio=0.1))[1] != stage_keys(Opts())[1]


def test_mutable_defaults_are_refused() -> None:
    with pytest.raises(TypeError, match="immutable"):
        option([], "a list")


def test_register_makes_a_stage_buildable_and_ordered_after_the_known_ones() -> None:
    catalog.register(Opts)
    try:
        assert catalog.build("opts", {"n": "5"}).n == 5
        assert catalog.ordered(["opts", "quality", "provenance"]) == ("provenance", "quality", "opts")
        with pytest.raises(ConfigError, match="has no option"):
            catalog.build("opts", {"nope": 1})
    finally:
        catalog.unregister("opts")
    with pytest.raises(ConfigError, match="unknown stage 'opts'"):
        catalog.build("opts")
