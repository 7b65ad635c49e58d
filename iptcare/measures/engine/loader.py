"""Loading and validating instrument files: every problem of a file is named at once."""

import functools
import math
import tomllib
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from iptcare.measures.engine.definitions import (
    _CODE_RE,
    _LOINC_RE,
    _OPS,
    INSTRUMENTS_DIR,
    SCHEMA_VERSION,
    Aggregation,
    Band,
    Cutoff,
    DefinitionError,
    FlagRule,
    Instrument,
    Item,
    MissingRule,
    Option,
    ReliableChangeRule,
    ScreenRule,
    Source,
    Subscale,
    TotalRule,
    UnknownInstrument,
)


# --- loading and validation ---------------------------------------------------------------------
class _Reader:
    """Reads one parsed TOML document, collecting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def table(
        self, value: object, path: str, required: set[str], optional: set[str]
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, "must be a table")
            return {}
        for key in sorted(set(value) - required - optional):
            self.fail(f"{path}.{key}", "unknown key")
        for key in sorted(required - set(value)):
            self.fail(f"{path}.{key}", "is required")
        return value

    def tables(self, value: object, path: str) -> list[object]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, "must be an array of tables")
            return []
        return value

    def text(self, d: dict[str, Any], key: str, path: str, *, choices: tuple[str, ...] = ()) -> str:
        value = d.get(key)
        if key not in d:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{path}.{key}", "must be a non-empty string")
            return ""
        if choices and value not in choices:
            self.fail(f"{path}.{key}", f"must be one of {', '.join(choices)}")
        return value

    def opt_str(self, d: dict[str, Any], key: str, path: str) -> str | None:
        return self.text(d, key, path) or None if key in d else None

    def integer(self, d: dict[str, Any], key: str, path: str) -> int:
        value = d.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{path}.{key}", "must be an integer")
            return 0
        return value

    def num(self, d: dict[str, Any], key: str, path: str) -> float:
        value = d.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{path}.{key}", "must be a number")
            return 0
        return value


def _aggregate(scores: list[int], how: Aggregation) -> float:
    total = sum(scores)
    return total if how == "sum" else float(Fraction(total, len(scores)))


def load_file(path: Path) -> Instrument:
    """Load and validate one definition file; raise ``DefinitionError`` listing every problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DefinitionError(str(path), [f"cannot read: {exc}"]) from exc
    r = _Reader()
    inst = _build(r, data, expected_code=path.stem)
    if r.problems or inst is None:
        raise DefinitionError(str(path), r.problems or ["invalid"])
    return inst


def _build(r: _Reader, data: dict[str, Any], *, expected_code: str) -> Instrument | None:
    top = r.table(
        data,
        "$",
        {
            "schema",
            "code",
            "title",
            "version",
            "description",
            "recall_period",
            "instructions",
            "licence",
            "direction",
            "scoring_source",
            "sources",
            "items",
            "missing",
        },
        {
            "loinc",
            "option_sets",
            "total",
            "bands",
            "subscales",
            "flags",
            "screens",
            "reliable_change",
            "notes",
        },
    )
    if top.get("schema") != SCHEMA_VERSION:
        r.fail("$.schema", f"must be {SCHEMA_VERSION}")
    code = r.text(top, "code", "$")
    if code and not _CODE_RE.match(code):
        r.fail("$.code", "must be lower-case letters and digits joined by dashes")
    if code and code != expected_code:
        r.fail("$.code", f"must match the file name ({expected_code!r})")
    direction = r.text(top, "direction", "$", choices=("lower_is_better", "higher_is_better"))
    texts = {
        k: r.text(top, k, "$")
        for k in ("title", "version", "description", "recall_period", "instructions", "licence")
    }

    # Sources first: every rule below must name one of them.
    sources: list[Source] = []
    for n, raw in enumerate(r.tables(top.get("sources"), "$.sources")):
        p = f"$.sources[{n}]"
        s = r.table(raw, p, {"key", "citation", "year"}, {"url", "note"})
        sources.append(
            Source(
                r.text(s, "key", p),
                r.text(s, "citation", p),
                r.integer(s, "year", p),
                r.opt_str(s, "url", p),
            )
        )
    keys = [s.key for s in sources]
    if not sources:
        r.fail("$.sources", "at least one source is required")
    for dup in sorted({k for k in keys if keys.count(k) > 1}):
        r.fail("$.sources", f"duplicate key {dup!r}")

    def src(d: dict[str, Any], path: str) -> str:
        key = r.text(d, "source", path)
        if key and key not in keys:
            r.fail(f"{path}.source", f"{key!r} is not a key in [[sources]]")
        return key

    scoring_source = src({"source": top.get("scoring_source", "")}, "$.scoring_source")

    def options(raw_list: object, path: str) -> tuple[Option, ...]:
        opts: list[Option] = []
        for n, raw in enumerate(r.tables(raw_list, path)):
            p = f"{path}[{n}]"
            o = r.table(raw, p, {"code", "display", "score"}, set())
            opts.append(
                Option(r.text(o, "code", p), r.text(o, "display", p), r.integer(o, "score", p))
            )
        if len(opts) < 2:
            r.fail(path, "an item needs at least two options")
        codes = [o.code for o in opts]
        for dup in sorted({c for c in codes if codes.count(c) > 1}):
            r.fail(path, f"duplicate option code {dup!r}")
        return tuple(opts)

    option_sets: dict[str, tuple[Option, ...]] = {}
    raw_sets = top.get("option_sets", {})
    if not isinstance(raw_sets, dict):
        r.fail("$.option_sets", "must be a table")
        raw_sets = {}
    for name, raw in raw_sets.items():
        option_sets[name] = options(raw, f"$.option_sets.{name}")
    used_sets: set[str] = set()

    items: list[Item] = []
    for n, raw in enumerate(r.tables(top.get("items"), "$.items")):
        p = f"$.items[{n}]"
        d = r.table(raw, p, {"number", "text"}, {"options", "option_set", "scored"})
        if ("options" in d) == ("option_set" in d):
            r.fail(p, "give exactly one of options or option_set")
            opts: tuple[Option, ...] = (Option("", "", 0),)
        elif "option_set" in d:
            name = r.text(d, "option_set", p)
            used_sets.add(name)
            if name not in option_sets:
                r.fail(f"{p}.option_set", f"no option set named {name!r}")
            opts = option_sets.get(name, (Option("", "", 0),))
        else:
            opts = options(d["options"], f"{p}.options")
        scored = d.get("scored", True)
        if not isinstance(scored, bool):
            r.fail(f"{p}.scored", "must be true or false")
            scored = True
        items.append(Item(r.text(d, "number", p), r.text(d, "text", p), opts, scored))
    for name in sorted(set(option_sets) - used_sets):
        r.fail(f"$.option_sets.{name}", "is never used")
    numbers = [i.number for i in items]
    if not items:
        r.fail("$.items", "at least one item is required")
    for dup in sorted({x for x in numbers if numbers.count(x) > 1}):
        r.fail("$.items", f"duplicate item number {dup!r}")
    by_number = {i.number: i for i in items}
    scored_items = [i for i in items if i.scored]

    m = r.table(top.get("missing"), "$.missing", {"rule"}, {"max_missing", "source", "note"})
    rule = r.text(m, "rule", "$.missing", choices=("no_total", "prorate"))
    max_missing = r.integer(m, "max_missing", "$.missing") if "max_missing" in m else 0
    if rule == "prorate" and not 0 < max_missing < len(scored_items):
        r.fail("$.missing.max_missing", "prorating needs 0 < max_missing < number of scored items")
    if rule == "no_total" and max_missing:
        r.fail("$.missing.max_missing", "only meaningful with rule = 'prorate'")
    if rule == "prorate" and "source" not in m:
        r.fail("$.missing.source", "a prorating rule must cite its published source")
    missing = MissingRule(
        "prorate" if rule == "prorate" else "no_total",
        max_missing,
        src(m, "$.missing") if "source" in m else None,
        str(m.get("note", "")),
    )

    # Ranges each target can take, computed from the options (so declared ranges can be checked).
    ranges: dict[str, tuple[float, float]] = {
        f"item:{i.number}": (i.min_score, i.max_score) for i in items if i.options
    }
    total: TotalRule | None = None
    if "total" in top:
        t = r.table(top["total"], "$.total", {"aggregation", "min", "max", "source"}, set())
        agg = r.text(t, "aggregation", "$.total", choices=("sum", "mean"))
        tmin, tmax = r.num(t, "min", "$.total"), r.num(t, "max", "$.total")
        if scored_items and agg in ("sum", "mean"):
            how: Aggregation = "sum" if agg == "sum" else "mean"
            lo = _aggregate([i.min_score for i in scored_items], how)
            hi = _aggregate([i.max_score for i in scored_items], how)
            if (tmin, tmax) != (lo, hi):
                r.fail(
                    "$.total", f"declared range {tmin} to {tmax} but the options give {lo} to {hi}"
                )
            total = TotalRule(how, tmin, tmax, src(t, "$.total"))
            ranges["total"] = (tmin, tmax)

    bands: list[Band] = []
    for n, raw in enumerate(r.tables(top.get("bands"), "$.bands")):
        p = f"$.bands[{n}]"
        b = r.table(raw, p, {"code", "min", "max", "label", "client_label", "source"}, set())
        bands.append(
            Band(
                r.text(b, "code", p),
                r.num(b, "min", p),
                r.num(b, "max", p),
                r.text(b, "label", p),
                r.text(b, "client_label", p),
                src(b, p),
            )
        )
    if bands:
        if total is None:
            r.fail("$.bands", "bands need a [total]")
        elif total.aggregation != "sum":
            r.fail("$.bands", "bands are supported only for summed (integer) totals")
        else:
            expect = total.min
            for n, band in enumerate(bands):
                if band.min != expect or band.max < band.min:
                    r.fail(
                        f"$.bands[{n}]",
                        f"must start at {expect} and not end before it starts "
                        "(bands are contiguous, in order, and cover the whole total)",
                    )
                expect = band.max + 1
            if bands[-1].max != total.max:
                r.fail("$.bands", f"the last band must end at the total maximum {total.max}")

    subscales: list[Subscale] = []
    for n, raw in enumerate(r.tables(top.get("subscales"), "$.subscales")):
        p = f"$.subscales[{n}]"
        s = r.table(raw, p, {"code", "title", "items", "aggregation", "source"}, set())
        members = s.get("items", [])
        if (
            not isinstance(members, list)
            or not members
            or not all(isinstance(x, str) for x in members)
        ):
            r.fail(f"{p}.items", "must be a non-empty array of item numbers (strings)")
            members = []
        for x in members:
            if x not in by_number:
                r.fail(f"{p}.items", f"no item {x!r}")
        if len(set(members)) != len(members):
            r.fail(f"{p}.items", "lists an item twice")
        agg = r.text(s, "aggregation", p, choices=("sum", "mean"))
        how = "mean" if agg == "mean" else "sum"
        sub = Subscale(r.text(s, "code", p), r.text(s, "title", p), tuple(members), how, src(s, p))
        subscales.append(sub)
        if members and all(x in by_number for x in members):
            ranges[f"subscale:{sub.code}"] = (
                _aggregate([by_number[x].min_score for x in members], how),
                _aggregate([by_number[x].max_score for x in members], how),
            )
    sub_codes = [s.code for s in subscales]
    for dup in sorted({c for c in sub_codes if sub_codes.count(c) > 1}):
        r.fail("$.subscales", f"duplicate code {dup!r}")

    def target(d: dict[str, Any], path: str) -> str:
        value = r.text(d, "target", path) if "target" in d else "total"
        if value and value not in ranges:
            r.fail(
                f"{path}.target", f"{value!r} is not 'total', 'item:<number>' or 'subscale:<code>'"
            )
        return value

    flags: list[FlagRule] = []
    for n, raw in enumerate(r.tables(top.get("flags"), "$.flags")):
        p = f"$.flags[{n}]"
        f = r.table(
            raw, p, {"code", "severity", "message", "target", "op", "value", "source"}, set()
        )
        flags.append(
            FlagRule(
                r.text(f, "code", p),
                r.text(f, "severity", p, choices=("safety", "clinical")),
                r.text(f, "message", p),
                target(f, p),
                r.text(f, "op", p, choices=tuple(_OPS)),
                r.num(f, "value", p),
                src(f, p),
            )
        )
    screens: list[ScreenRule] = []
    for n, raw in enumerate(r.tables(top.get("screens"), "$.screens")):
        p = f"$.screens[{n}]"
        s = r.table(raw, p, {"code", "label", "cutoffs", "source"}, {"target", "context_key"})
        ctx_key = r.opt_str(s, "context_key", p)
        cutoffs: list[Cutoff] = []
        for k, raw_c in enumerate(r.tables(s.get("cutoffs"), f"{p}.cutoffs")):
            cp = f"{p}.cutoffs[{k}]"
            c = r.table(raw_c, cp, {"min"} | ({"context"} if ctx_key else set()), set())
            cutoffs.append(Cutoff(r.num(c, "min", cp), r.opt_str(c, "context", cp)))
        contexts = [c.context for c in cutoffs]
        if not cutoffs or (ctx_key is None and len(cutoffs) != 1):
            r.fail(f"{p}.cutoffs", "needs one cutoff, or one per context value with context_key")
        if len(set(contexts)) != len(contexts):
            r.fail(f"{p}.cutoffs", "a context value appears twice")
        tgt = target(s, p)
        lo, hi = ranges.get(tgt, (-math.inf, math.inf))
        for k, cutoff in enumerate(cutoffs):
            if not lo < cutoff.min <= hi:
                r.fail(f"{p}.cutoffs[{k}].min", f"must lie within ({lo}, {hi}] to mean anything")
        screens.append(
            ScreenRule(
                r.text(s, "code", p), r.text(s, "label", p), tgt, ctx_key, tuple(cutoffs), src(s, p)
            )
        )
    for what, codes in (("flags", [f.code for f in flags]), ("screens", [s.code for s in screens])):
        for dup in sorted({c for c in codes if codes.count(c) > 1}):
            r.fail(f"$.{what}", f"duplicate code {dup!r}")

    rc: ReliableChangeRule | None = None
    if "reliable_change" in top:
        p = "$.reliable_change"
        d = r.table(
            top["reliable_change"],
            p,
            {"method", "source"},
            {"threshold", "sd", "reliability", "note"},
        )
        method = r.text(d, "method", p, choices=("threshold", "jacobson_truax"))
        if method == "threshold":
            thr = r.num(d, "threshold", p) if "threshold" in d else 0
            if thr <= 0 or "sd" in d or "reliability" in d:
                r.fail(p, "method 'threshold' needs threshold > 0 and no sd/reliability")
            rc = ReliableChangeRule("threshold", thr, None, None, src(d, p))
        elif method == "jacobson_truax":
            sd = r.num(d, "sd", p) if "sd" in d else 0
            rel = r.num(d, "reliability", p) if "reliability" in d else -1
            if sd <= 0 or not 0 <= rel < 1 or "threshold" in d:
                r.fail(
                    p, "method 'jacobson_truax' needs sd > 0, 0 <= reliability < 1, no threshold"
                )
            rc = ReliableChangeRule("jacobson_truax", None, sd, rel, src(d, p))
        if total is None:
            r.fail(p, "reliable change needs a [total]")

    loinc_panel = loinc_total = None
    if "loinc" in top:
        d = r.table(top["loinc"], "$.loinc", {"source"}, {"panel", "total"})
        src(d, "$.loinc")
        loinc_panel, loinc_total = (
            r.opt_str(d, "panel", "$.loinc"),
            r.opt_str(d, "total", "$.loinc"),
        )
        for key, value in (("panel", loinc_panel), ("total", loinc_total)):
            if value and not _LOINC_RE.match(value):
                r.fail(f"$.loinc.{key}", "is not a LOINC code (digits, dash, check digit)")
    if r.problems:
        return None
    return Instrument(
        code=code,
        title=texts["title"],
        version=texts["version"],
        description=texts["description"],
        recall_period=texts["recall_period"],
        instructions=texts["instructions"],
        licence=texts["licence"],
        direction="higher_is_better" if direction == "higher_is_better" else "lower_is_better",
        scoring_source=scoring_source,
        sources=tuple(sources),
        items=tuple(items),
        missing=missing,
        total=total,
        bands=tuple(bands),
        subscales=tuple(subscales),
        flags=tuple(flags),
        screens=tuple(screens),
        reliable_change=rc,
        loinc_panel=loinc_panel,
        loinc_total=loinc_total,
    )


def load_dir(directory: Path) -> dict[str, Instrument]:
    """Load every ``*.toml`` in a directory; any malformed file refuses the whole set."""
    return {inst.code: inst for inst in map(load_file, sorted(directory.glob("*.toml")))}


@functools.cache
def _builtin() -> Mapping[str, Instrument]:
    return load_dir(INSTRUMENTS_DIR)


def load_all() -> dict[str, Instrument]:
    """The shipped instruments by code (parsed and validated once per process)."""
    return dict(_builtin())


def get(code: str) -> Instrument:
    try:
        return _builtin()[code]
    except KeyError:
        raise UnknownInstrument(code) from None
