"""The learned selection stages in `assay ablate`: the quality recipes heuristics (`quality`), classifier
(`fasttext_quality`) and both (`quality_both`), and what becomes of recipes whose stage needs a file
the user did not give (a model, seed documents).

The classifier comes from `--quality-model MODEL` or `[quality] model = "MODEL"` in --eval-config, and
is given to every recipe that runs fasttext_quality without a model of its own. A recipe that still
names an unconfigured stage is skipped with a note (a stage alone), or runs without that stage
(`full`), also with a note: an ablation must not stop at its fifth recipe over a missing option.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

BUILTIN = {"quality_both": ("quality", "fasttext_quality")}


def builtin_recipes() -> dict[str, Any]:
    from eval.ablate import Recipe

    return {name: Recipe(name, stages) for name, stages in BUILTIN.items()}


def learned_available(available: tuple[str, ...], config: dict[str, Any], model: Path | None) -> tuple[str, ...]:
    """The stages recipes may use: those a plain run would run, plus fasttext_quality when a model is
    given (it is left out of a plain run, which has none), in the run order."""
    from stages import catalog

    if not (model or config.get("quality", {}).get("model")) or "fasttext_quality" not in catalog.all_stages():
        return available
    return catalog.ordered([*available, "fasttext_quality"])


def with_learned(recipes: list, config: dict[str, Any], model: Path | None) -> tuple[list, list[str]]:
    from eval.ablate import Recipe
    from stages import catalog

    model = model or config.get("quality", {}).get("model")
    out, notes = [], []
    for r in recipes:
        options = {k: dict(v) for k, v in r.options.items()}
        if model and "fasttext_quality" in r.stages and "model" not in options.get("fasttext_quality", {}):
            options["fasttext_quality"] = {**options.get("fasttext_quality", {}), "model": str(model)}
        needs = {s: getattr(catalog.build(s, options.get(s, {})), "unconfigured", lambda: None)() for s in r.stages}
        needs = {s: why + (" (assay ablate: --quality-model MODEL)" if s == "fasttext_quality" else "")
                 for s, why in needs.items() if why}
        if needs and r.name != "full":
            notes.append(f"recipe {r.name!r} skipped: " + "; ".join(f"stage {s} needs {why}" for s, why in needs.items()))
            continue
        if needs:
            notes.append(f"recipe 'full' runs without {', '.join(needs)}: " + "; ".join(f"{s} needs {w}" for s, w in needs.items()))
        stages = tuple(s for s in r.stages if s not in needs)
        out.append(Recipe(r.name, stages, {k: v for k, v in options.items() if k in stages}))
    return out, notes
