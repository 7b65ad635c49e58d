"""Show a plan snapshot's stored codes by their labels (snapshots keep codes for the diff)."""

from __future__ import annotations

from django import template

from iptcare.plans.models import AsamDimension, IptProblemArea, MedicationIndication, Modality

register = template.Library()


def _label(choices: type, value: object) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


@register.filter
def modality_label(value: str) -> str:
    return _label(Modality, value)


@register.filter
def problem_area_label(value: str) -> str:
    return _label(IptProblemArea, value)


@register.filter
def asam_label(value: int) -> str:
    return _label(AsamDimension, value)


@register.filter
def indication_label(value: str) -> str:
    return _label(MedicationIndication, value)
