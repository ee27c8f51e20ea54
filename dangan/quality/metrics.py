"""GX metric providers behind the custom expectations (pandas engine): each maps rows to pass/fail.

Defining a provider registers its metric with GX; :mod:`dangan.quality.expectations` imports this module.
The predicates themselves live in :mod:`dangan.quality.checks`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    MulticolumnMapMetricProvider,
    column_condition_partial,
    multicolumn_condition_partial,
)

from dangan.quality import checks
from dangan.quality.checks import missing


def _rows(frame: pd.DataFrame, fn: Callable[..., bool]) -> pd.Series:
    return frame.apply(lambda r: bool(fn(*[None if missing(v) else v for v in r.tolist()])), axis=1).astype(bool)


# --- column metrics --------------------------------------------------------------------------------------
class ColumnValuesResidentIdValid(ColumnMapMetricProvider):
    condition_metric_name = "column_values.dangan_resident_id_valid"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(lambda v: checks.id_problem(str(v)) is None)


class ColumnValuesResidentIdCurrent(ColumnMapMetricProvider):
    condition_metric_name = "column_values.dangan_resident_id_current"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(lambda v: not checks.is_legacy_id(str(v)))


class ColumnValuesRegionPlausible(ColumnMapMetricProvider):
    condition_metric_name = "column_values.dangan_region_plausible"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(lambda v: checks.region_plausible(str(v)))


class ColumnValuesUsccValid(ColumnMapMetricProvider):
    condition_metric_name = "column_values.dangan_uscc_valid"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(lambda v: checks.uscc_valid(str(v)))


class ColumnValuesIsoDate(ColumnMapMetricProvider):
    condition_metric_name = "column_values.dangan_iso_date"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(lambda v: checks.valid_iso_date(str(v)))


class ColumnValuesIsoMonth(ColumnMapMetricProvider):
    condition_metric_name = "column_values.dangan_iso_month"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(lambda v: checks.valid_iso_month(str(v)))


class ColumnValuesPlainDecimal(ColumnMapMetricProvider):
    condition_metric_name = "column_values.dangan_plain_decimal"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(lambda v: checks.to_decimal(v) is not None)


class ColumnValuesDecimalBetween(ColumnMapMetricProvider):
    condition_metric_name = "column_values.dangan_decimal_between"
    condition_value_keys = ("min_value", "max_value")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, min_value: str | None = None, max_value: str | None = None, **kw: Any):
        return column.map(lambda v: checks.amount_between(v, min_value, max_value))


class ColumnValuesMonthsContinuous(ColumnMapMetricProvider):
    condition_metric_name = "column_values.dangan_months_continuous"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(lambda v: not checks.missing_months(json.loads(v) if isinstance(v, str) else list(v)))


class ColumnValuesNoFieldConflict(ColumnMapMetricProvider):
    condition_metric_name = "column_values.dangan_no_field_conflict"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return column.map(lambda v: not (json.loads(v) if isinstance(v, str) else list(v)))


# --- multicolumn metrics ---------------------------------------------------------------------------------
class MulticolumnIdBirth(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.dangan_id_birth"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        return _rows(column_list, checks.id_matches_birth)


class MulticolumnIdSex(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.dangan_id_sex"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        return _rows(column_list, checks.id_matches_sex)


class MulticolumnDatesOrdered(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.dangan_dates_ordered"
    condition_value_keys = ("strict",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, strict: list[bool] | None = None, **kwargs: Any) -> pd.Series:
        flags = list(strict or [False] * (column_list.shape[1] - 1))
        return column_list.apply(lambda r: checks.dates_ordered(r.tolist(), flags), axis=1).astype(bool)


class MulticolumnAmountsAddUp(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.dangan_amounts_add_up"
    condition_value_keys = ("tolerance",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, tolerance: str = "0.01", **kwargs: Any) -> pd.Series:
        if column_list.shape[1] == 2:  # a stated total against a computed one
            return _rows(column_list, lambda a, b: checks.amounts_add_up(a, "0", b, tolerance))
        return _rows(column_list, lambda e, p, t: checks.amounts_add_up(e, p, t, tolerance))


class MulticolumnMonthsConsistent(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.dangan_months_consistent"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        return _rows(column_list, checks.months_consistent)


def _disagreeing(values: pd.Series, registered: pd.Series | None) -> pd.Series:
    """Rows of one group whose value differs from the reference: the registered value, else the value most
    rows carry. With a tie and nothing registered there is no reference: every present value is suspect."""
    reg = [str(v) for v in (registered if registered is not None else []) if not missing(v)]
    seen = Counter(str(v) for v in values if not missing(v))
    if reg:
        ref: str | None = reg[0]
    elif len(seen) <= 1:
        return pd.Series(False, index=values.index)
    else:
        (top, n1), (_, n2) = seen.most_common(2)
        ref = top if n1 > n2 else None
    return values.map(lambda v: not missing(v) and (ref is None or str(v) != ref))


def _group_check(frame: pd.DataFrame, pairs: list[tuple[str, str | None]]) -> pd.Series:
    key = frame.columns[0]
    ok = pd.Series(True, index=frame.index)
    for _, group in frame[frame[key].map(lambda v: not missing(v))].groupby(key):
        for col, reg in pairs:
            bad = _disagreeing(group[col], group[reg] if reg else None)
            ok.loc[bad[bad].index] = False
    return ok


class MulticolumnIdentityAgrees(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.dangan_identity_agrees"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        _, rid, name, reg_id, reg_name = column_list.columns
        return _group_check(column_list, [(rid, reg_id), (name, reg_name)])


class MulticolumnAgreesWithinGroup(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.dangan_agrees_within_group"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        return _group_check(column_list, [(column_list.columns[1], None)])
