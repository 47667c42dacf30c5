"""Interaction profiling: item popularity and long-tail tier, user activity, time features.

The profile is computed from the whole log, not only the minority rows, so
that an item's tier reflects its popularity among all interactions. It is
stored with the model: sampling draws real item and user ids from it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from generator.schema import Role, Schema

logger = logging.getLogger(__name__)

ITEM_TIER = "item_tier"
ITEM_POPULARITY = "item_popularity"
USER_ACTIVITY = "user_activity"
HEAD = "head"
TAIL = "tail"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# An item attribute is a categorical column with one value per item for at least this share of items.
ATTRIBUTE_CONSISTENCY = 0.99


def hour_column(datetime_column: str) -> str:
    return f"{datetime_column}_hour"


def weekday_column(datetime_column: str) -> str:
    return f"{datetime_column}_weekday"


@dataclass
class InteractionProfile:
    """Item and user statistics of a whole log, and the long-tail threshold used."""

    head_share: float
    label_counts: dict[str, int]
    item_key: str | None = None
    user_key: str | None = None
    items: pd.DataFrame | None = None  # index: item id; columns: count, tier, and item attributes
    users: pd.DataFrame | None = None  # index: user id; column: count
    item_attributes: list[str] = field(default_factory=list)
    datetime_columns: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """Return the JSON facts of the profile that go into the manifest."""
        summary: dict = {"head_share": self.head_share, "label_counts": self.label_counts}
        if self.items is not None:
            tiers = self.items["tier"].value_counts()
            interactions = self.items.groupby("tier")["count"].sum()
            summary["items"] = {
                "column": self.item_key,
                "distinct": int(len(self.items)),
                "head_items": int(tiers.get(HEAD, 0)),
                "tail_items": int(tiers.get(TAIL, 0)),
                "tail_interaction_share": float(interactions.get(TAIL, 0) / interactions.sum()),
                "seen_once_share": float((self.items["count"] == 1).mean()),
                "attributes": self.item_attributes,
            }
        if self.users is not None:
            counts = self.users["count"]
            summary["users"] = {
                "column": self.user_key,
                "distinct": int(len(self.users)),
                "median_interactions": float(counts.median()),
                "max_interactions": int(counts.max()),
            }
        summary["derived_columns"] = self.derived_columns()
        return summary

    def derived_columns(self) -> list[str]:
        derived = []
        if self.items is not None:
            derived += [ITEM_TIER, ITEM_POPULARITY]
        if self.users is not None:
            derived.append(USER_ACTIVITY)
        for column in self.datetime_columns:
            derived += [hour_column(column), weekday_column(column)]
        return derived

    def save(self, directory: Path) -> dict:
        """Write the item and user tables as Parquet; return the JSON part."""
        if self.items is not None:
            self.items.to_parquet(directory / "items.parquet")
        if self.users is not None:
            self.users.to_parquet(directory / "users.parquet")
        return {
            "head_share": self.head_share,
            "label_counts": self.label_counts,
            "item_key": self.item_key,
            "user_key": self.user_key,
            "item_attributes": self.item_attributes,
            "datetime_columns": self.datetime_columns,
        }

    @classmethod
    def load(cls, directory: Path, data: dict) -> InteractionProfile:
        items = pd.read_parquet(directory / "items.parquet") if data["item_key"] else None
        users = pd.read_parquet(directory / "users.parquet") if data["user_key"] else None
        return cls(
            head_share=data["head_share"],
            label_counts=data["label_counts"],
            item_key=data["item_key"],
            user_key=data["user_key"],
            items=items,
            users=users,
            item_attributes=data["item_attributes"],
            datetime_columns=data["datetime_columns"],
        )


def build_profile(typed: pd.DataFrame, schema: Schema) -> InteractionProfile:
    """Profile a whole typed log (the output of `apply_schema`)."""
    label_counts = typed[schema.label].value_counts(dropna=True)
    profile = InteractionProfile(
        head_share=schema.profile.head_share,
        label_counts={str(value): int(count) for value, count in label_counts.items()},
        datetime_columns=schema.columns_of_role(Role.DATETIME),
    )

    item_key = schema.column_of_role(Role.ITEM_KEY)
    if item_key is not None:
        profile.item_key = item_key
        profile.item_attributes = _item_attributes(typed, item_key, schema.columns_of_role(Role.CATEGORICAL))
        profile.items = _item_table(typed, item_key, profile.item_attributes, schema.profile.head_share)

    user_key = schema.column_of_role(Role.USER_KEY)
    if user_key is not None:
        profile.user_key = user_key
        counts = typed[user_key].value_counts(dropna=True)
        profile.users = pd.DataFrame({"count": counts.astype("int64")})
        profile.users.index = profile.users.index.astype(str)
        profile.users.index.name = user_key

    logger.info("Profiled %d rows: %s", len(typed), {k: v for k, v in profile.summary().items() if k != "label_counts"})
    return profile


def _item_attributes(typed: pd.DataFrame, item_key: str, categorical: list[str]) -> list[str]:
    """Return the categorical columns that hold one value per item, such as an item's category."""
    attributes = []
    for column in categorical:
        per_item = typed.groupby(item_key, sort=False)[column].nunique(dropna=True)
        if len(per_item) and (per_item <= 1).mean() >= ATTRIBUTE_CONSISTENCY:
            attributes.append(column)
    return attributes


def _item_table(typed: pd.DataFrame, item_key: str, attributes: list[str], head_share: float) -> pd.DataFrame:
    counts = typed[item_key].value_counts(dropna=True)
    # Most popular first; ties broken by id so that the tier boundary is deterministic.
    table = pd.DataFrame({"count": counts.astype("int64")})
    table.index = table.index.astype(str)
    table = table.reset_index(names="item").sort_values(["count", "item"], ascending=[False, True])

    # The head is the most popular items that together hold `head_share` of the interactions. Items as
    # popular as the first item past that share join the tail too, so equally popular items share a tier
    # and the real tail share (reported in the summary) can exceed 1 - head_share.
    share_before = (table["count"].cumsum() - table["count"]) / table["count"].sum()
    past_head = share_before.to_numpy() >= head_share
    boundary_count = table["count"].to_numpy()[past_head][0] if past_head.any() else 0
    table["tier"] = np.where(table["count"].to_numpy() > boundary_count, HEAD, TAIL)

    for column in attributes:
        pairs = typed.groupby([item_key, column], sort=True).size().rename("rows").reset_index()
        most_common = pairs.sort_values("rows", kind="stable").drop_duplicates(item_key, keep="last")
        table[column] = table["item"].map(pd.Series(most_common[column].to_numpy(), index=most_common[item_key].astype(str)))
    table = table.set_index("item")
    table.index.name = item_key
    return table


def add_derived_columns(typed: pd.DataFrame, profile: InteractionProfile) -> pd.DataFrame:
    """Return `typed` with the profile's columns: item tier and popularity, user activity, hour, weekday."""
    derived = typed.copy()
    if profile.items is not None:
        ids = derived[profile.item_key]
        derived[ITEM_TIER] = ids.map(profile.items["tier"])
        derived[ITEM_POPULARITY] = ids.map(profile.items["count"]).astype("float64")
    if profile.users is not None:
        derived[USER_ACTIVITY] = derived[profile.user_key].map(profile.users["count"]).astype("float64")
    for column in profile.datetime_columns:
        hours, weekdays = time_features(derived[column].to_numpy(dtype="float64"))
        derived[hour_column(column)] = hours
        derived[weekday_column(column)] = weekdays
    return derived


def time_features(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return hour ('0'..'23') and weekday ('Mon'..'Sun') in UTC of epoch seconds, as object arrays."""
    # NOTE: hours and weekdays are in UTC; a log recorded in another time zone gets shifted hours.
    valid = ~np.isnan(seconds)
    whole = np.where(valid, seconds, 0).astype("int64")
    hours = np.floor_divide(whole % 86400, 3600)
    weekdays = (np.floor_divide(whole, 86400) + 3) % 7  # 1970-01-01 was a Thursday
    hour_text = np.array([str(hour) for hour in range(24)], dtype=object)[hours]
    weekday_text = np.array(WEEKDAYS, dtype=object)[weekdays]
    hour_text[~valid] = None
    weekday_text[~valid] = None
    return hour_text, weekday_text
