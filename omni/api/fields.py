"""Serializer fields shared by every app's API."""

from __future__ import annotations

from typing import Any

from django.core import validators
from rest_framework import serializers

from omni.limits import MAX_QUANTITY


class QuantityField(serializers.IntegerField):
    """A whole number of units given as a JSON integer (refuses 1.5, "3", true), within bounds that
    the schema shows: below the minimum ``invalid_quantity``, above ``MAX_QUANTITY``
    ``quantity_out_of_range``."""

    default_error_messages = {
        "invalid_quantity": "Must be a whole number of units (a JSON integer), got {value!r}.",
        "below_minimum": "Must be at least {min_value}.",
        "quantity_out_of_range": "Must be at most {max_value} in size.",
    }

    def __init__(self, *, min_value: int = 1, max_value: int = MAX_QUANTITY, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Checked here (stable codes), and read by drf-spectacular for the schema's minimum / maximum.
        self.min_value, self.max_value = min_value, max_value

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid_quantity", value=data)
        high = self.max_value if self.max_value is not None else MAX_QUANTITY
        low = self.min_value if self.min_value is not None else -MAX_QUANTITY
        if data > high or data < -MAX_QUANTITY:
            self.fail("quantity_out_of_range", max_value=high)
        if data < low:
            raise serializers.ValidationError(self.error_messages["below_minimum"].format(min_value=self.min_value),
                                              code="invalid_quantity")
        return data


class BoundedListSerializer(serializers.ListSerializer):
    """A list of ``child`` items whose ``min_length`` / ``max_length`` the schema shows too
    (minItems / maxItems); made by ``bounded_many``."""

    @property
    def validators(self) -> list[Any]:
        bounds: list[Any] = []
        low, high = getattr(self, "min_length", None), getattr(self, "max_length", None)
        if low is not None:
            bounds.append(validators.MinLengthValidator(low))
        if high is not None:
            bounds.append(validators.MaxLengthValidator(high))
        return bounds

    @validators.setter
    def validators(self, value: Any) -> None:
        pass


def bounded_many(child: serializers.Serializer, *, min_length: int = 1, max_length: int = 200, **kwargs: Any) -> BoundedListSerializer:
    """``many=True`` with bounds the schema shows: 1 to 200 items by default."""
    return BoundedListSerializer(child=child, min_length=min_length, max_length=max_length, allow_empty=min_length == 0, **kwargs)
