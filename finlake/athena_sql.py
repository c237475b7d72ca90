r"""Athena engine v3 (Trino) SQL to DuckDB SQL, with sqlglot.

`translate` parses one Athena ``SELECT``/``WITH`` statement with sqlglot's Trino dialect and writes
it in DuckDB's. Where sqlglot's own translation gives a different answer from Athena, the two
dialect subclasses below fix it; each fix names the Trino rule it follows (docs.trino.io,
"Functions and operators"):

- ``date_diff(unit, a, b)`` counts *complete* units (Joda-Time's field difference):
  ``date_diff('month', DATE '2024-01-15', DATE '2024-02-14')`` is 0. DuckDB's ``date_diff`` counts
  boundaries crossed (1); DuckDB's ``date_sub`` counts complete units, so it is used instead.
- A ``DATE`` stays a ``DATE``: ``date_add('day', 1, d)``, ``d - INTERVAL '7' DAY``,
  ``date_trunc('month', d)`` and ``sequence(d1, d2)`` are dates in Trino; DuckDB's date arithmetic
  with intervals gives timestamps, so the result is cast back when the operand is a date. Types
  come from sqlglot's annotator with the Glue catalog as schema.
- Integer division truncates (``5 / 2`` is 2), as sqlglot does once operand types are known.
- Decimals stay decimals, as in Trino (DuckDB answers DOUBLE): ``a / b`` with a decimal operand
  (the other decimal or integer) has scale ``max(a_scale, b_scale)``, rounded half up
  (``DecimalOperators``: 840316.52 / 3 is 280105.51, ``1.0 / 3`` is 0.3), computed exactly on
  HUGEINTs, and division by zero fails ("Division by zero") instead of giving ``inf``;
  ``avg(decimal(p, s))`` is a decimal of scale ``s`` (``avg(amount)`` -28.69, not
  -28.693243...), in a window too. A decimal literal (``1.0``, ``100.0``) is a decimal as in
  Trino; scales come from the catalog's types through sqlglot's annotator (``*`` adds scales,
  ``+``/``-`` take the larger). When an operand's scale is unknown DuckDB's DOUBLE answer stays.
- ``regexp_extract`` returns NULL when nothing matches (DuckDB: ``''``); ``regexp_replace``'s
  replacement uses Java's ``$1`` for groups (DuckDB/RE2: ``\1``).
- ``sequence(d1, d2, INTERVAL '1' MONTH)`` counts each element from the start (Jan 31, Feb 29,
  Mar 31); DuckDB's ``generate_series`` adds to the previous one (Mar 29).
- ``approx_percentile(x, p)``: Athena's digests are exact on small inputs and answer the element
  at sorted position ``floor(p * n)``; DuckDB's t-digest interpolates (the median of 1, 2, 3, 4 is
  3 in Athena, 2 in DuckDB). The translation sorts the values (the local lake is small), so local
  answers are Athena's; inside a window or FILTER DuckDB's ``approx_quantile`` is kept.
- ``approx_percentile(x, w, p)`` with three arguments is the *weighted* form in Trino (sqlglot
  reads it as an accuracy): DuckDB has no weighted quantile, so it is refused by name.
- ``approx_distinct(x, e)``: the maximum standard error ``e`` is a precision hint; DuckDB's
  HyperLogLog has a fixed one, so the hint is dropped.
- ``ts AT TIME ZONE zone``: Trino shows the *instant* ``ts`` (a timestamp without zone is in the
  session zone, UTC in Athena) in ``zone``; DuckDB would instead read ``ts`` as a wall clock in
  ``zone``. The operand is cast to ``TIMESTAMPTZ`` first, which gives Trino's wall clock.
- ``from_iso8601_timestamp(s)`` is a ``timestamp with time zone`` that keeps the string's offset:
  ``hour()``, ``CAST(... AS date|timestamp)``, ``date_format``, ``date_trunc``, ``extract``... of
  ``'2024-01-01T22:00:00-03:00'`` see 22:00 on 2024-01-01. DuckDB's ``TIMESTAMPTZ`` keeps only the
  instant and reads it in the session zone (UTC: 01:00 the next day), so under those wall-clock
  functions the value is the string's own wall clock (offset cut off, ``TIMESTAMP``); elsewhere
  (shown, compared, ``AT TIME ZONE``) it stays the instant, shown in UTC.
- ``format(fmt, ...)`` is Java's ``String.format`` (``%s``, ``%d``, ``%.2f``): DuckDB's
  ``printf``, not its ``format`` (``{}`` placeholders).
- ``date_format``'s ``%v`` is the ISO week (DuckDB ``%V``); the specifiers Trino itself refuses
  (``%D %U %u %V %w %X``) are refused.
- ``reduce(array, initial, (s, x) -> ..., s -> ...)`` becomes DuckDB's ``list_reduce`` with an
  initial value, the output function applied to its result; ``map_agg(k, v)`` becomes
  ``map_from_entries(list({k, v}))``; ``cardinality`` works on arrays and maps.
- ``CAST``/``try_cast`` of a varchar to ``tinyint``..``bigint`` takes what Trino's
  ``VarcharOperators`` take: the text trimmed as Java's ``String.trim()`` does (Trino 457+), then
  ``Integer.parseInt``'s syntax (optional sign, digits). ``'1.5'``, ``'1e3'``, ``'1_000'`` fail
  ("Cannot cast '1.5' to INT") or are NULL under ``try_cast``; DuckDB alone rounds or reads them.
- ``json_extract_scalar`` is NULL for an array, an object, JSON null or text that is not JSON
  (Trino's ``ScalarValueJsonExtractor``; DuckDB's ``->>`` returns the JSON text, and fails on bad JSON).
- Integer division by zero fails with "Division by zero" (``IntegerOperators``); double division
  by zero is Infinity or NaN in both engines (``DoubleOperators.divide`` is Java's ``/``).
- A varchar compared with a date, timestamp, number or boolean (``dt_ref = '2024-01-02'``,
  ``BETWEEN``, ``IN``) is refused as Athena refuses it ("Cannot apply operator"): Trino converts
  no varchar implicitly, DuckDB would. The refusal is `AthenaRefuses`, which ``finlake query``
  does not retry in DuckDB's dialect.

`check_read_only` refuses, before anything runs, every statement that is not one read: only
``SELECT``/``WITH``/``VALUES`` over the catalog's tables (and CTEs, ``UNNEST``) pass; ``COPY``,
``ATTACH``, ``INSTALL``/``LOAD``, ``SET``, ``PRAGMA``, DDL and DML, ``SELECT ... INTO`` and DuckDB's
file-reading table functions (``read_csv``, ``read_parquet``, ``glob``...) or a file named as a
table (``FROM '/etc/passwd'``) are refused by name. It decides on sqlglot's parse trees (the Athena
parse and DuckDB's, since DuckDB-only SQL runs too), never on the text.

What cannot be translated raises `TranslationError`, one line naming the construct: a function
DuckDB does not have (``format_datetime``, ``to_iso8601``, ``with_timezone``...), a Joda-Time
pattern (``parse_datetime``), a weighted percentile, or a statement that is not Athena SQL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from typing import Any, ClassVar

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.trino import Trino
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, SqlglotError, UnsupportedError
from sqlglot.generators.duckdb import DuckDBGenerator
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.parsers.trino import TrinoParser
from sqlglot.schema import MappingSchema


class TranslationError(ValueError):
    """Athena SQL that has no DuckDB translation; the message is one line naming the construct."""


class AthenaRefuses(TranslationError):
    """SQL that Athena itself refuses (a type error), refused here too.

    DuckDB would run it, so `finlake.query` does not hand it to DuckDB's own dialect either.
    """


# Specifiers Trino's date_format/date_parse refuse ("not currently supported").
_TRINO_UNSUPPORTED_SPECIFIERS = re.compile(r"%[DUuVwX]")
_DATE_UNITS = {"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}


def _approx_percentile(args: list[Any]) -> exp.Expr:
    if len(args) >= 3:  # Trino: approx_percentile(x, w, percentage[s]); there is no accuracy form
        return exp.ApproxQuantile(this=args[0], weight=args[1], quantile=args[2])
    return exp.ApproxQuantile(this=args[0], quantile=args[1])


def _regexp_extract(args: list[Any]) -> exp.Expr:
    return exp.RegexpExtract(
        this=args[0], expression=args[1], group=args[2] if len(args) > 2 else None, null_if_no_match=True
    )


def _date_trunc(args: list[Any]) -> exp.Expr:
    # Trino's date_trunc keeps its argument's type (a date stays a date).
    return exp.TimestampTrunc(this=args[1], unit=exp.var(args[0].name.upper()), input_type_preserved=True)


def _unsupported(name: str, hint: str) -> Any:
    def build(args: list[Any]) -> exp.Expr:
        raise TranslationError(f"{name}() has no DuckDB translation here ({hint})")

    return build


def _checked_format(name: str) -> Any:
    """Trino's own builder for ``name`` (MySQL-style specifiers), refusing the ones Trino refuses."""
    build = TrinoParser.FUNCTIONS[name.upper()]

    def parse(args: list[Any], dialect: Any) -> exp.Expr:
        fmt = args[1] if len(args) > 1 else None
        if isinstance(fmt, exp.Literal) and fmt.is_string and (bad := _TRINO_UNSUPPORTED_SPECIFIERS.search(fmt.name)):
            raise TranslationError(f"{name}: the specifier {bad.group()} is not supported by Athena (Trino) either")
        return build(args, dialect)

    return parse


class AthenaV3(Trino):
    """Athena engine v3's DML dialect: Trino, with the parse fixes listed in the module docstring."""

    # Trino's %v is the ISO week (Monday first), used with %x (the ISO week's year).
    TIME_MAPPING = {**Trino.TIME_MAPPING, "%v": "%V"}  # noqa: RUF012 - sqlglot's own attribute

    class Parser(TrinoParser):
        """Trino's parser, reading percentiles, regexp_extract, date_trunc and date formats as Athena does."""

        FUNCTIONS: ClassVar[dict[str, Any]] = {
            **TrinoParser.FUNCTIONS,
            "APPROX_PERCENTILE": _approx_percentile,
            "REGEXP_EXTRACT": _regexp_extract,
            "DATE_TRUNC": _date_trunc,
            "DATE_FORMAT": _checked_format("date_format"),
            "DATE_PARSE": _checked_format("date_parse"),
            "PARSE_DATETIME": _unsupported("parse_datetime", "a Joda-Time pattern: use date_parse with %Y-%m-%d"),
        }


def _java_replacement(text: str) -> str:
    r"""Java's ``Matcher.replaceAll`` replacement (``$1``, ``\$``) in RE2's syntax (``\1``, ``$``)."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append("\\\\" if text[i + 1] == "\\" else text[i + 1])
            i += 2
        elif char == "$" and i + 1 < len(text) and text[i + 1].isdigit():
            out.append("\\" + text[i + 1])
            i += 2
        elif char == "$" and text[i + 1 : i + 2] == "{":
            raise TranslationError("regexp_replace: named groups (${name}) in the replacement are not supported here")
        else:
            out.append(char)
            i += 1
    return "".join(out)


_DUCKDB_GENERATE_SERIES = DuckDBGenerator.TRANSFORMS[exp.GenerateSeries]
# Functions that read a timestamp's wall clock (fields, formatting, truncation, casts to a type
# without a zone): Trino reads a timestamp with time zone in its own zone there.
_WALL_CLOCK = (
    exp.Hour, exp.Minute, exp.Second, exp.Day, exp.DayOfMonth, exp.Month, exp.Year, exp.Quarter,
    exp.DayOfWeek, exp.DayOfWeekIso, exp.DayOfYear, exp.Week, exp.WeekOfYear, exp.YearOfWeek,
    exp.TimestampTrunc, exp.DateTrunc, exp.Extract, exp.TimeToStr, exp.Date, exp.LastDay, exp.TsOrDsToDate,
)  # fmt: skip


_INTEGERS = (exp.DType.TINYINT, exp.DType.SMALLINT, exp.DType.INT, exp.DType.BIGINT)


def _scale(node: exp.Expr) -> tuple[int, bool] | None:
    """``(scale, is_decimal)`` of an exact numeric expression in Trino's typing.

    An integer is a decimal of scale 0; None when the expression is not exact (double, varchar) or the scale is unknown.
    """
    if isinstance(node, exp.Paren | exp.Neg):
        return _scale(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        text = node.name.lower()
        if "e" in text:
            return None
        return (len(text.partition(".")[2]), True) if "." in text else (0, False)
    if isinstance(node, exp.Mul | exp.Add | exp.Sub | exp.Div):
        left, right = _scale(node.left), _scale(node.right)
        if left is None or right is None:
            return None
        combined = left[0] + right[0] if isinstance(node, exp.Mul) else max(left[0], right[0])
        return combined, left[1] or right[1]
    if isinstance(node, exp.Sum | exp.Min | exp.Max | exp.Window):
        return _scale(node.this)
    if isinstance(node, exp.Avg):
        inner = _scale(node.this)
        return inner if inner is not None and inner[1] else None  # avg(integer) is a double
    if isinstance(node, exp.Cast):
        return _type_scale(node.to)
    return _type_scale(node.type) if node.type is not None else None


def _type_scale(kind: exp.DataType) -> tuple[int, bool] | None:
    if kind.is_type(*_INTEGERS):
        return 0, False
    if kind.is_type(exp.DType.DECIMAL) and len(kind.expressions) == 2:
        return int(kind.expressions[1].name), True
    return None


def _exact_division(a: str, a_scale: int, b: str, b_scale: int, scale: int) -> str:
    """``a / b`` as DECIMAL(38, scale), rounded half up, on the operands' unscaled HUGEINTs.

    That is ``round(A * 10^(b_scale + scale - a_scale) / B)`` with ``A = a * 10^a_scale``, ``B = b * 10^b_scale``.
    """
    big_a = f"CAST(({a}) * {10**a_scale} AS HUGEINT)"
    big_b = f"CAST(({b}) * {10**b_scale} AS HUGEINT)"
    numerator = f"{big_a} * {10 ** (b_scale + scale - a_scale)}"
    rounded = f"SIGN({big_a}) * SIGN({big_b}) * ((2 * ABS({numerator}) + ABS({big_b})) // (2 * ABS({big_b})))"
    unit = f" * CAST({exp.Literal.number(f'{10**-scale:.{scale}f}').name} AS DECIMAL({scale + 1}, {scale}))"
    return (
        f"CASE WHEN {big_b} = 0 THEN ERROR('Division by zero') "
        f"ELSE CAST(CAST({rounded} AS DECIMAL(38, 0)){unit if scale else ''} AS DECIMAL(38, {scale})) END"
    )


def _nonzero(divisor: exp.Expr) -> exp.Expr:
    """``divisor``, or Trino's "Division by zero" error where it is 0 (typed as the divisor)."""
    error = exp.Anonymous(this="ERROR", expressions=[exp.Literal.string("Division by zero")])
    checked = exp.case().when(exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0)), error)
    checked = checked.else_(divisor.copy())
    wrapped = exp.paren(checked, copy=False)
    checked.type = wrapped.type = divisor.type
    return wrapped


_INTEGER_NAMES = {exp.DType.TINYINT: "TINYINT", exp.DType.SMALLINT: "SMALLINT", exp.DType.INT: "INT"}
# What Trino's VarcharOperators accept for an integer type: Java's String.trim() (characters up to
# U+0020) around Integer.parseInt's syntax, an optional sign and digits ('1.5', '1e3', '' fail).
_JAVA_INTEGER = r"^[\x00-\x20]*([+-]?[0-9]+)[\x00-\x20]*$"


def _integer_from_text(generator: Any, cast: exp.Cast) -> str | None:
    """Trino's ``CAST``/``try_cast`` of a varchar to an integer type (VarcharOperators), or None for any other cast.

    DuckDB's cast rounds '1.5' to 2 and reads '1e3' and '1_000'; Trino refuses them ("Cannot cast '1.5' to INT";
    try_cast gives NULL).
    """
    source, target = cast.this, cast.to
    if not target.is_type(*_INTEGERS) or not source.is_type(*exp.DataType.TEXT_TYPES):
        return None
    text = generator.sql(source)
    digits = f"REGEXP_EXTRACT({text}, '{_JAVA_INTEGER}', 1)"
    kind = generator.sql(target)
    if isinstance(cast, exp.TryCast) or cast.args.get("safe"):
        return f"TRY_CAST(NULLIF({digits}, '') AS {kind})"
    name = _INTEGER_NAMES.get(target.this, "BIGINT")
    refusal = f"ERROR('Cannot cast ''' || {text} || ''' to {name}')"
    return (
        f"CAST(CASE WHEN {text} IS NULL OR REGEXP_MATCHES({text}, '{_JAVA_INTEGER}') THEN {digits} "
        f"ELSE {refusal} END AS {kind})"
    )


class LocalDuckDB(DuckDB):
    """DuckDB, written the way Athena means it (the generator fixes in the module docstring)."""

    class Generator(DuckDBGenerator):
        """DuckDB's generator with the Athena fixes listed in the module docstring, one method per expression type."""

        def datediff_sql(self, expression: exp.DateDiff) -> str:
            """``date_diff(unit, a, b)`` as DuckDB's ``date_sub``: complete units, as Trino counts them."""
            unit = expression.args.get("unit")
            name = unit.name.lower() if unit is not None else "day"
            return self.func("DATE_SUB", exp.Literal.string(name), expression.expression, expression.this)

        def approxquantile_sql(self, expression: exp.ApproxQuantile) -> str:
            """``approx_percentile`` as the element at sorted position ``floor(p * n)``, as Athena answers small inputs.

            Inside a window or FILTER, DuckDB's ``approx_quantile`` is kept.

            Raises
            ------
            TranslationError
                For the weighted form ``approx_percentile(x, w, p)``.
            """
            if expression.args.get("weight") is not None:
                raise TranslationError(
                    "approx_percentile(x, w, percentage) with a weight has no DuckDB translation (no weighted quantile)"
                )
            value, quantile = expression.this, expression.args["quantile"]
            if isinstance(expression.parent, (exp.Window, exp.Filter)):  # keep DuckDB's t-digest there
                return self.func("APPROX_QUANTILE", value, quantile)
            # Athena's digests hold small inputs exactly and then answer the element at sorted
            # position floor(p * n) (0-based, at most n - 1); DuckDB's t-digest interpolates
            # (median of 1, 2, 3, 4: Athena 3, DuckDB 2). The local lake is small: sort it.
            x = self.sql(value)
            n = f"COUNT({x})"
            values = f"LIST_SORT(LIST({x}) FILTER (WHERE {x} IS NOT NULL))"

            def at(p: str) -> str:
                return f"{values}[LEAST(CAST(FLOOR({p} * {n}) AS BIGINT), {n} - 1) + 1]"

            if isinstance(quantile, exp.Array) or quantile.is_type(exp.DType.ARRAY):
                return f"LIST_TRANSFORM({self.sql(quantile)}, LAMBDA finlake_p: {at('finlake_p')})"
            return at(self.sql(quantile))

        def div_sql(self, expression: exp.Div) -> str:
            """``a / b``: exact when an operand is a decimal; integer division by zero fails as in Trino."""
            left, right = _scale(expression.left), _scale(expression.right)
            if left is None or right is None or not (left[1] or right[1]):
                divisor = expression.right
                if (
                    expression.args.get("typed")
                    and expression.left.is_type(*_INTEGERS)
                    and divisor.is_type(*_INTEGERS)
                    and not (divisor.is_int and int(divisor.name) != 0)
                ):
                    # Trino's integer division fails with "Division by zero"; sqlglot's
                    # CAST(TRUNC(a / b) AS BIGINT) fails casting DuckDB's inf to BIGINT instead.
                    expression = expression.copy()
                    expression.right.replace(_nonzero(expression.right))
                return super().div_sql(expression)
            scale = max(left[0], right[0])
            return _exact_division(self.sql(expression.left), left[0], self.sql(expression.right), right[0], scale)

        def avg_sql(self, expression: exp.Avg) -> str:
            """``avg`` of a decimal as a decimal of the same scale (outside windows and FILTER)."""
            scale = _scale(expression)
            if scale is None or isinstance(expression.parent, exp.Window | exp.Filter):
                return self.function_fallback_sql(expression)
            value = self.sql(expression.this)
            return _exact_division(f"SUM({value})", scale[0], f"COUNT({value})", 0, scale[0])

        def window_sql(self, expression: exp.Window) -> str:
            """A window over ``avg`` of a decimal as an exact window sum / window count at the operand's scale."""
            avg, scale = expression.this, _scale(expression.this)
            if not isinstance(avg, exp.Avg) or scale is None:
                return super().window_sql(expression)
            total, count = expression.copy(), expression.copy()
            total.set("this", exp.Sum(this=avg.this.copy()))
            count.set("this", exp.Count(this=avg.this.copy()))
            return _exact_division(super().window_sql(total), scale[0], super().window_sql(count), 0, scale[0])

        def cast_sql(self, expression: exp.Cast, safe_prefix: str | None = None) -> str:
            """``CAST`` of a varchar to an integer type by Trino's rules (`_integer_from_text`), else DuckDB's cast."""
            return _integer_from_text(self, expression) or super().cast_sql(expression, safe_prefix)

        def trycast_sql(self, expression: exp.TryCast) -> str:
            """``try_cast`` of a varchar to an integer type by Trino's rules (`_integer_from_text`), else DuckDB's."""
            return _integer_from_text(self, expression) or super().trycast_sql(expression)

        def jsonextractscalar_sql(self, expression: exp.JSONExtractScalar) -> str:
            """``json_extract_scalar``: NULL for an array, an object, JSON null or non-JSON text, as in Trino."""
            # Trino's ScalarValueJsonExtractor: NULL for an array, an object, JSON null, a missing
            # path and text that is not JSON (JsonExtract catches the parse error); DuckDB's ->>
            # returns arrays and objects as JSON text and fails on malformed JSON.
            expression = expression.copy()
            json = expression.this
            valid = exp.case().when(exp.func("JSON_VALID", json.copy()), json.copy())  # NULL if not JSON
            json.replace(valid)
            kind = self.func("JSON_TYPE", valid, expression.expression)
            return f"CASE WHEN {kind} NOT IN ('ARRAY', 'OBJECT') THEN {super().jsonextractscalar_sql(expression)} END"

        def approxdistinct_sql(self, expression: exp.ApproxDistinct) -> str:
            """``approx_distinct(x[, e])`` as DuckDB's ``approx_count_distinct(x)`` (the error hint dropped)."""
            return self.func("APPROX_COUNT_DISTINCT", expression.this)

        def arraysize_sql(self, expression: exp.ArraySize) -> str:
            """``cardinality`` of an array or a map."""
            return self.func("CARDINALITY", expression.this)  # arrays and maps, as Trino's cardinality

        def fromiso8601timestamp_sql(self, expression: exp.FromISO8601Timestamp) -> str:
            """``from_iso8601_timestamp``: the string's wall clock under wall-clock functions, else the instant."""
            parent = expression.parent
            wall_clock = isinstance(parent, _WALL_CLOCK) or (
                isinstance(parent, exp.Cast) and not parent.to.is_type(exp.DType.TIMESTAMPTZ)
            )
            if not wall_clock:
                return super().fromiso8601timestamp_sql(expression)
            # the wall clock as written: the offset (Z, +05:30, -0300, -03) after the time cut off
            text = self.func("REGEXP_REPLACE", expression.this, "'(T[0-9:.]*)(Z|[+-][0-9:]*)$'", "'\\1'")
            return f"CAST({text} AS TIMESTAMP)"

        def format_sql(self, expression: exp.Format) -> str:
            """``format(fmt, ...)`` (Java's String.format) as DuckDB's ``printf``."""
            return self.func("PRINTF", expression.this, *expression.expressions)

        def regexpreplace_sql(self, expression: exp.RegexpReplace) -> str:
            r"""``regexp_replace`` with a literal Java replacement (``$1``) rewritten in RE2's syntax (``\1``)."""
            replacement = expression.args.get("replacement")
            if isinstance(replacement, exp.Literal) and replacement.is_string:
                expression = expression.copy()
                expression.set("replacement", exp.Literal.string(_java_replacement(replacement.name)))
            return super().regexpreplace_sql(expression)

        def attimezone_sql(self, expression: exp.AtTimeZone) -> str:
            """``ts AT TIME ZONE zone`` on the instant: the operand cast to ``TIMESTAMPTZ`` first, as Trino reads it."""
            this = expression.this
            if not this.is_type(exp.DType.TIMESTAMPTZ):
                this = exp.cast(this.copy(), exp.DType.TIMESTAMPTZ)
            operand = exp.paren(this, copy=False) if isinstance(this, exp.Binary) else this
            return f"{self.sql(operand)} AT TIME ZONE {self.sql(expression, 'zone')}"

        def reduce_sql(self, expression: exp.Reduce) -> str:
            """``reduce(array, initial, merge, finish)`` as DuckDB's ``list_reduce`` with the output lambda applied.

            Raises
            ------
            TranslationError
                When the output function is not a one-parameter lambda.
            """
            reduced: exp.Expr = exp.Anonymous(
                this="LIST_REDUCE",
                expressions=[expression.this, expression.args["merge"], expression.args["initial"]],
            )
            finish = expression.args.get("finish")
            if isinstance(finish, exp.Lambda) and len(finish.expressions) == 1:
                name = finish.expressions[0].name
                body = finish.this.copy()
                if isinstance(body, (exp.Identifier, exp.Column)) and body.name == name:
                    return self.sql(reduced)
                for ident in list(body.find_all(exp.Identifier)):
                    if ident.name == name and not isinstance(ident.parent, exp.Dot):
                        target = ident.parent if isinstance(ident.parent, exp.Column) else ident
                        target.replace(exp.paren(reduced.copy(), copy=False))
                return self.sql(body)
            if finish is not None:
                raise TranslationError("reduce(): the output function must be a lambda, e.g. s -> s")
            return self.sql(reduced)

        def anonymous_sql(self, expression: exp.Anonymous) -> str:
            """``map_agg(k, v)`` as ``map_from_entries(list({k, v}))``; other functions as DuckDB writes them."""
            if expression.name.lower() == "map_agg" and len(expression.expressions) == 2:
                key, value = expression.expressions
                pairs = exp.Struct(
                    expressions=[
                        exp.PropertyEQ(this=exp.to_identifier("k"), expression=key),
                        exp.PropertyEQ(this=exp.to_identifier("v"), expression=value),
                    ]
                )
                return self.func("MAP_FROM_ENTRIES", exp.Anonymous(this="LIST", expressions=[pairs]))
            return super().anonymous_sql(expression)

        def add_sql(self, expression: exp.Add) -> str:
            """``a + b``, a DATE when a date gets an interval of days or longer (`_interval_on_date`)."""
            return self._interval_on_date(expression, super().add_sql(expression))

        def sub_sql(self, expression: exp.Sub) -> str:
            """``a - b``, a DATE when a date loses an interval of days or longer (`_interval_on_date`)."""
            return self._interval_on_date(expression, super().sub_sql(expression))

        def _interval_on_date(self, expression: exp.Binary, sql: str) -> str:
            """``date +/- INTERVAL`` in days or longer is a DATE in Trino (DuckDB: a TIMESTAMP).

            date_add(unit, n, date) is written as this sum too.
            """
            left, right = expression.left, expression.right
            if isinstance(right, exp.Interval) and left.is_type(exp.DType.DATE):
                unit = right.args.get("unit")
                if unit is not None and unit.name.upper() in _DATE_UNITS:
                    return f"CAST({sql} AS DATE)"
            return sql

        def generateseries_sql(self, expression: exp.GenerateSeries) -> str:
            """``sequence(d1, d2[, step])`` of dates as dates; month steps counted from the start, as in Trino."""
            if not expression.args["start"].is_type(exp.DType.DATE):
                return _DUCKDB_GENERATE_SERIES(self, expression)
            # Trino's sequence(date, date[, step]) steps a day by default and gives dates.
            expression = expression.copy()
            step = expression.args.get("step")
            if step is None:
                expression.set("step", exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY")))
            months = _months(step)
            if months is not None:
                # Month steps count from the start (Jan 31, Feb 29, Mar 31), not from the previous
                # element as DuckDB's generate_series does (Jan 31, Feb 29, Mar 29).
                start, end = self.sql(expression.args["start"]), self.sql(expression.args["end"])
                count = f"DATE_SUB('month', {start}, {end}) // {months}"
                each = f"LAMBDA finlake_i: CAST({start} + TO_MONTHS(CAST(finlake_i * {months} AS INTEGER)) AS DATE)"
                return f"LIST_TRANSFORM(GENERATE_SERIES(0, {count}), {each})"
            return f"CAST({_DUCKDB_GENERATE_SERIES(self, expression)} AS DATE[])"


LocalDuckDB.Generator.TRANSFORMS = {
    k: v
    for k, v in DuckDBGenerator.TRANSFORMS.items()
    if k not in (exp.DateDiff, exp.ApproxDistinct, exp.ArraySize, exp.Format, exp.Reduce, exp.GenerateSeries)
}


def _months(step: exp.Expr | None) -> int | None:
    """The months of a literal ``INTERVAL 'n' MONTH|QUARTER|YEAR`` step; None for any other step."""
    if not isinstance(step, exp.Interval) or step.args.get("unit") is None:
        return None
    per_unit = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}.get(step.args["unit"].name.upper())
    count = step.this.name if step.this is not None else ""
    return per_unit * int(count) if per_unit and count.lstrip("-").isdigit() else None


def glue_schema(catalog: Mapping[str, Mapping[str, Any]]) -> MappingSchema:
    """The sqlglot schema of the workspace's Glue catalog.

    ``{database: {table: {column: type}}}``, partition keys included, types as Glue writes them (Hive names: ``string``,
    ``decimal(20,2)``).
    """
    tables: dict[str, object] = {}
    for database, entries in catalog.items():
        for name, entry in entries.items():
            table = entry["table"]
            columns = table["StorageDescriptor"]["Columns"] + table.get("PartitionKeys", [])
            by_table: dict[str, dict[str, str]] = tables.setdefault(database, {})  # type: ignore[assignment]
            by_table[name] = {c["Name"]: c["Type"] for c in columns}
    return MappingSchema(tables, dialect="hive")


# DuckDB functions that read files, the environment or other databases; refused wherever they appear.
_EXTERNAL_FUNCTIONS = frozenset(
    {
        "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "parquet_metadata", "parquet_schema",
        "parquet_file_metadata", "parquet_kv_metadata", "read_json", "read_json_auto", "read_json_objects",
        "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects", "read_text",
        "read_blob", "glob", "sniff_csv", "query", "query_table", "getenv", "iceberg_scan", "delta_scan",
        "read_xlsx", "sqlite_scan", "sqlite_attach", "postgres_scan", "mysql_scan", "st_read",
    }
)  # fmt: skip
_WRITES: tuple[type[exp.Expr], ...] = (exp.DDL, exp.DML, exp.Copy, exp.Command, exp.Set, exp.Pragma, exp.Attach)
_WRITES += (exp.Detach, exp.Install, exp.Use, exp.Into, exp.Transaction, exp.Commit, exp.Rollback, exp.Export)
_READS = "finlake query only reads: one SELECT, WITH or VALUES (or SHOW / DESCRIBE)"


def check_read_only(sql: str, databases: Collection[str]) -> frozenset[tuple[str, str]]:
    """Refuse ``sql`` unless it is one read statement over ``databases``' tables.

    Returns the ``(database, table)`` names it reads, lower case, as either grammar parses them (a CTE's name is
    not one). The names are not checked against the tables: a table that does not exist is DuckDB's to report.

    Raises
    ------
    TranslationError: one line naming the construct (``COPY``, ``read_csv()``, a table outside the
    catalog...), or the parse error when neither Athena's nor DuckDB's grammar reads the text.
    """
    trees, first_error = [], None
    for dialect in (AthenaV3, "duckdb"):
        try:
            trees.append(_parse_quietly(sql, dialect))
        except TranslationError as exc:
            first_error = first_error or exc
    if not trees:
        raise first_error or TranslationError("not Athena SQL")
    tables: set[tuple[str, str]] = set()
    for statements in trees:
        if len(statements) != 1:
            raise TranslationError(f"one statement per query, as in Athena ({len(statements)} given)")
        tables |= _check_tree(statements[0], sql, {d.lower() for d in databases} | {"information_schema"})
    return frozenset(tables)


def _parse_quietly(sql: str, dialect: Any) -> list[exp.Expr]:
    parser_log = logging.getLogger("sqlglot")
    level = parser_log.level
    parser_log.setLevel(logging.ERROR)  # no "falling back to parsing as a Command" warning line
    try:
        return [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        raise TranslationError(_parse_message(exc)) from None
    except SqlglotError as exc:
        raise TranslationError(str(exc).splitlines()[0]) from None
    finally:
        parser_log.setLevel(level)


def _check_tree(tree: exp.Expr, sql: str, databases: set[str]) -> set[tuple[str, str]]:
    if not isinstance(tree, (exp.Query, exp.Values)):
        tokens = sqlglot.tokenize(sql)
        word = tokens[0].text.upper() if tokens else type(tree).__name__.upper()
        raise TranslationError(f"{word} is refused: {_READS}")
    ctes = {cte.alias.lower() for cte in tree.find_all(exp.CTE)}
    tables = set()
    for node in tree.walk():
        if isinstance(node, _WRITES):
            word = "SELECT ... INTO" if isinstance(node, exp.Into) else type(node).__name__.upper()
            raise TranslationError(f"{word} is refused: {_READS}")
        if isinstance(node, exp.Func) and (name := _function_name(node)) in _EXTERNAL_FUNCTIONS:
            raise TranslationError(f"{name}() reads outside the catalog and is refused: {_READS}")
        if isinstance(node, exp.Table):
            _check_table(node, ctes, databases)
            if node.db:
                tables.add((node.db.lower(), node.name.lower()))
    return tables


def _check_table(table: exp.Table, ctes: set[str], databases: set[str]) -> None:
    if isinstance(table.this, exp.Func):
        raise TranslationError(f"{_function_name(table.this)}(): only the catalog's tables are read ({_READS})")
    if not isinstance(table.this, exp.Identifier):
        raise TranslationError(f"{table.this.sql()}: only the catalog's tables are read ({_READS})")
    if table.db:
        if table.db.lower() not in databases:
            raise TranslationError(f"database {table.db} does not exist (SHOW DATABASES lists them)")
    elif table.name.lower() not in ctes:
        raise TranslationError(f"table {table.name}: name it with its database, e.g. finlake_curated.<table>")


def _function_name(node: exp.Func) -> str:
    return node.name.lower() if isinstance(node, exp.Anonymous) else node.sql_name().lower()


def translate(sql: str, *, schema: MappingSchema | None = None, functions: Collection[str] = ()) -> str:
    """DuckDB SQL for one Athena (Trino) statement.

    Parameters
    ----------
    sql: one statement, Athena engine v3 syntax (a trailing ``;`` is fine).
    schema: the catalog's column types (`glue_schema`), for the fixes that depend on a type.
    functions: DuckDB's function names (lower case); a call to any other is refused by name.

    Raises
    ------
    TranslationError: not one statement, not Athena SQL, or a construct with no translation.
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read=AthenaV3) if s is not None]
    except ParseError as exc:
        raise TranslationError(_parse_message(exc)) from None
    except SqlglotError as exc:
        raise TranslationError(str(exc).splitlines()[0]) from None
    if len(statements) != 1:
        raise TranslationError(f"one statement per query, as in Athena ({len(statements)} given)")
    tree = statements[0]
    _annotate(tree, schema)
    _refuse_mixed_comparisons(tree)
    if functions:
        for call in tree.find_all(exp.Anonymous):
            name = call.name.lower()
            if name not in functions and name != "map_agg":
                raise TranslationError(f"{name}() has no DuckDB translation (not a DuckDB function)")
    _name_columns_as_athena(tree)
    try:
        return tree.sql(dialect=LocalDuckDB, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise TranslationError(str(exc).splitlines()[0]) from None


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ)
_NOT_TEXT = {*exp.DataType.TEMPORAL_TYPES, *exp.DataType.NUMERIC_TYPES, exp.DType.BOOLEAN}


def _refuse_mixed_comparisons(tree: exp.Expr) -> None:
    """Refuse comparing a varchar with a date, timestamp, number or boolean, as Athena does.

    Athena says "Cannot apply operator: date = varchar(10)": Trino coerces no varchar to those types, and DuckDB would
    cast the text silently. Only operands whose types the catalog gives are checked.
    """
    for node in tree.find_all(*_COMPARISONS, exp.Between, exp.In):
        if isinstance(node, exp.Between):
            pairs = [(node.this, node.args["low"]), (node.this, node.args["high"])]
        elif isinstance(node, exp.In):
            pairs = [(node.this, value) for value in node.expressions]
        elif isinstance(node, exp.Binary):
            pairs = [(node.left, node.right)]
        else:  # pragma: no cover - every comparison is a Binary
            continue
        for left, right in pairs:
            kinds = [_known_type(left), _known_type(right)]
            if None in kinds:
                continue
            texts = [k.is_type(*exp.DataType.TEXT_TYPES) for k in kinds if k is not None]
            others = [k.is_type(*_NOT_TEXT) for k in kinds if k is not None]
            if any(texts) and any(others):
                names = " and ".join(k.sql(dialect=AthenaV3).lower() for k in kinds if k is not None)
                raise AthenaRefuses(
                    f"Cannot apply operator to {names} ({node.sql(dialect=AthenaV3)}): Athena converts no "
                    "varchar implicitly; write DATE '2024-01-02', or CAST one side"
                )


def _known_type(node: exp.Expr) -> exp.DataType | None:
    kind = node.type
    return None if kind is None or kind.is_type(exp.DType.UNKNOWN, exp.DType.NULL) else kind


def _parse_message(exc: ParseError) -> str:
    if not exc.errors:
        return str(exc).splitlines()[0]
    error = exc.errors[0]
    description = re.sub(r"<Token token_type: [^,]*, text: ([^,]*),[^>]*>", r"'\1'", error["description"])
    return f"not Athena SQL, line {error['line']}, column {error['col']}: {description}"


def _annotate(tree: exp.Expr, schema: MappingSchema | None) -> None:
    """Give ``tree``'s nodes their types.

    sqlglot's annotator needs qualified columns, and qualifying rewrites the query (aliases, expanded GROUP BY); so a
    copy is qualified and annotated and its types are carried back to the user's own tree by node position.
    """
    nodes = list(tree.walk())
    for index, node in enumerate(nodes):
        node.meta["finlake_node"] = index
    typed = tree.copy()
    try:
        typed = qualify(
            typed,
            schema=schema,
            dialect=AthenaV3,
            expand_stars=False,
            expand_alias_refs=False,
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
    except (OptimizeError, SqlglotError):
        typed = tree.copy()
    try:
        annotate_types(typed, schema=schema, dialect=AthenaV3)
    except SqlglotError:  # pragma: no cover - the annotator is best effort; untyped SQL still runs
        return
    for node in typed.walk():
        position = node.meta.get("finlake_node") if node.meta else None
        if position is not None and node.type is not None and not node.is_type(exp.DType.UNKNOWN):
            nodes[position].type = node.type
    for node in nodes:
        node.meta.pop("finlake_node", None)


def _name_columns_as_athena(tree: exp.Expr) -> None:
    """Athena names an unnamed result column ``_col<position>`` (from 0); DuckDB would name it after its DuckDB text."""
    select = tree
    while isinstance(select, exp.SetOperation):  # a UNION's columns are named by its first SELECT
        select = select.this
    if not isinstance(select, exp.Select):
        return
    for position, projection in enumerate(select.expressions):
        if not isinstance(projection, (exp.Alias, exp.Column, exp.Star)):
            projection.replace(exp.alias_(projection.copy(), f"_col{position}"))
