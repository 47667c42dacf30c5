"""Column roles and the schema file that assigns them.

A schema is YAML or JSON. `longtail schema infer` drafts one from a data file;
the user reviews the roles before training. Example::

    source: {header: false, delimiter: ",",
             names: [user_id, item_id, category_id, behavior_type, timestamp]}
    columns:
      user_id: {role: user_key}
      item_id: {role: item_key}
      category_id: {role: categorical}
      behavior_type: {role: label}
      timestamp: {role: datetime, format: unix_s}
    minority: {values: [buy]}
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from generator.errors import SchemaError


class Role(str, Enum):
    """Role of a column: how longtail models and samples it."""

    LABEL = "label"
    USER_KEY = "user_key"
    ITEM_KEY = "item_key"
    CATEGORICAL = "categorical"
    NUMERICAL = "numerical"
    DATETIME = "datetime"
    BOOLEAN = "boolean"


DISCRETE_ROLES = (Role.LABEL, Role.CATEGORICAL, Role.BOOLEAN)
DATETIME_UNITS = ("unix_s", "unix_ms")


class ColumnSpec(BaseModel):
    """The role of one column and, for datetimes, how its values are written."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    format: str | None = Field(
        default=None,
        description="Datetime only: 'unix_s', 'unix_ms', 'iso', or a strftime pattern such as '%Y-%m-%d %H:%M:%S'.",
    )

    @model_validator(mode="after")
    def _check_format(self) -> ColumnSpec:
        if self.role is Role.DATETIME and self.format is None:
            raise ValueError("a datetime column needs a format: 'unix_s', 'unix_ms', 'iso' or a strftime pattern")
        if self.role is not Role.DATETIME and self.format is not None:
            raise ValueError(f"format {self.format!r} is only valid on a datetime column, not on role {self.role.value!r}")
        return self


class SourceOptions(BaseModel):
    """How to read the data file. `None` means: detect it from the file."""

    model_config = ConfigDict(extra="forbid")

    header: bool | None = Field(default=None, description="Whether the first CSV line contains the column names.")
    delimiter: str | None = Field(default=None, description="CSV field delimiter, for example ',' or ';'.")
    names: list[str] | None = Field(default=None, description="Column names for a CSV file without header.")
    na_values: list[str] = Field(
        default_factory=lambda: ["", "?", "NA", "N/A", "NaN", "null", "NULL"],
        description="Strings read as missing values.",
    )

    @field_validator("delimiter")
    @classmethod
    def _check_delimiter(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError(f"delimiter must be one character, got {value!r}")
        return value


class MinorityOptions(BaseModel):
    """Minority selection defaults of a schema, which `longtail train` options override."""

    model_config = ConfigDict(extra="forbid")

    values: list[str] | None = Field(
        default=None, description="Label values that form the minority. None selects every class under share_threshold."
    )
    share_threshold: float = Field(default=0.1, gt=0, lt=1, description="Class share under which a class is a minority.")
    long_tail_only: bool = Field(default=False, description="Train only on rows whose item is in the long tail.")
    mode: Literal["minority", "conditional"] = Field(
        default="minority",
        description="'minority' trains on the minority rows only; 'conditional' trains on all rows conditioned on the label.",
    )


class ProfileOptions(BaseModel):
    """Settings of interaction profiling and categorical encoding."""

    model_config = ConfigDict(extra="forbid")

    head_share: float = Field(
        default=0.8,
        gt=0,
        lt=1,
        description="Items that together account for this share of interactions, most popular first, form the head.",
    )
    categorical_cap: int = Field(
        default=50, ge=2, description="Categorical columns keep at most this many frequent values plus a rare bucket."
    )


class Schema(BaseModel):
    """Column roles of one table, and how to read it."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, ColumnSpec]
    source: SourceOptions = Field(default_factory=SourceOptions)
    minority: MinorityOptions = Field(default_factory=MinorityOptions)
    profile: ProfileOptions = Field(default_factory=ProfileOptions)

    @model_validator(mode="after")
    def _check_roles(self) -> Schema:
        if not self.columns:
            raise ValueError("a schema needs at least one column")
        for role in (Role.LABEL, Role.USER_KEY, Role.ITEM_KEY):
            named = [name for name, spec in self.columns.items() if spec.role is role]
            if len(named) > 1:
                raise ValueError(f"at most one column may have role {role.value!r}, got {named}")
        if self.label_or_none is None:
            raise ValueError("one column needs role 'label': the class column whose rare values are the minority")
        if self.source.names is not None and set(self.source.names) != set(self.columns):
            missing = sorted(set(self.columns) - set(self.source.names))
            extra = sorted(set(self.source.names) - set(self.columns))
            raise ValueError(f"source.names and columns differ: missing from names {missing}, not in columns {extra}")
        return self

    @property
    def label_or_none(self) -> str | None:
        return next((name for name, spec in self.columns.items() if spec.role is Role.LABEL), None)

    @property
    def label(self) -> str:
        """Name of the label column."""
        return self.label_or_none  # type: ignore[return-value]  # the validator guarantees one

    def column_of_role(self, role: Role) -> str | None:
        return next((name for name, spec in self.columns.items() if spec.role is role), None)

    def columns_of_role(self, *roles: Role) -> list[str]:
        return [name for name, spec in self.columns.items() if spec.role in roles]

    @classmethod
    def from_dict(cls, data: object, *, origin: str = "schema") -> Schema:
        if not isinstance(data, dict):
            raise SchemaError(f"{origin} must be a mapping with a 'columns' key, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in issue['loc']) or 'schema'}: {issue['msg']}" for issue in error.errors()
            )
            raise SchemaError(f"Invalid {origin}: {problems}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> Schema:
        """Read a schema from a YAML or JSON file."""
        path = Path(path)
        if not path.is_file():
            raise SchemaError(f"Schema file not found: {path}. Draft one with `longtail schema infer DATA --out {path}`.")
        text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (yaml.YAMLError, json.JSONDecodeError) as error:
            raise SchemaError(f"Schema file {path} is not valid YAML or JSON: {error}") from None
        return cls.from_dict(data, origin=f"schema file {path}")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)
