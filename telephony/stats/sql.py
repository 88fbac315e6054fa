"""The few expressions SQLite and PostgreSQL spell differently: seconds between two
times, whole numbers by floor, and the day/week/month a time falls in (UTC)."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import ColumnElement, Float, Integer, String, case, cast, func, literal

Unit = Literal["day", "week", "month"]


def count_where(condition: Any) -> ColumnElement[Any]:
    """How many of a group's rows meet `condition` (a sum of 1s: both databases)."""
    return func.sum(case((condition, 1), else_=0))


class Dialect:
    def __init__(self, name: str) -> None:
        self.postgres = name == "postgresql"

    def seconds(self, start: Any, end: Any) -> ColumnElement[Any]:
        """`end - start` in seconds (a float, to the millisecond on SQLite, whose
        julianday() difference is off by microseconds: 60 s would read 59.99999)."""
        if self.postgres:
            return cast(func.extract("epoch", end - start), Float)
        return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)

    def floor(self, value: Any) -> ColumnElement[Any]:
        """The whole number at or below a value >= 0. SQLite's CAST truncates (= floor
        for values >= 0) and has no floor() by default; PostgreSQL's CAST rounds."""
        if self.postgres:
            return cast(func.floor(value), Integer)
        return cast(value, Integer)

    def bucket(self, at: Any, unit: Unit) -> ColumnElement[Any]:
        """The UTC day, Monday of the ISO week (both YYYY-MM-DD) or month (YYYY-MM)."""
        if self.postgres:
            utc = func.timezone("UTC", at)
            if unit == "week":
                utc = func.date_trunc("week", utc)
            return func.to_char(utc, "YYYY-MM" if unit == "month" else "YYYY-MM-DD")
        if unit == "month":
            return func.strftime("%Y-%m", at)
        if unit == "week":  # next Sunday (or this one), then back to its Monday
            return func.date(at, "weekday 0", "-6 days")
        return func.strftime("%Y-%m-%d", at)


def everything() -> ColumnElement[Any]:
    """The key of the one group when figures are not grouped."""
    return cast(literal("all"), String)
