"""The admin's labels of the models translate (issue 23): every field's verbose name and help text,
and every model's name, singular and plural, is a lazy translation (gettext_lazy), never a plain
string. A label Django derives from a field's name ("ship_by" -> "ship by") goes through no
catalogue, so each field says its verbose name itself.

Auto-created fields (the `id` primary key, the parent link of an inherited model) and reverse
relations are Django's own and are left out.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.utils.functional import Promise

MODELS = sorted(apps.get_app_config("inquiries").get_models(), key=lambda model: model._meta.label)


def _untranslated(model: Any) -> list[str]:
    meta = model._meta
    found = [
        f"Meta.{name}"
        for name in ("verbose_name", "verbose_name_plural")
        if not isinstance(getattr(meta, name), Promise)
    ]
    for field in meta.concrete_fields:
        if field.auto_created:
            continue
        if not isinstance(field.verbose_name, Promise):
            found.append(f"{field.name}.verbose_name ({field.verbose_name!r})")
        if field.help_text and not isinstance(field.help_text, Promise):
            found.append(f"{field.name}.help_text ({field.help_text!r})")
    return found


def test_every_model_of_the_app_is_checked() -> None:
    assert len(MODELS) > 40  # the parametrization below did not come up empty


@pytest.mark.parametrize("model", MODELS, ids=[model._meta.label for model in MODELS])
def test_model_texts_are_lazy_translations(model: Any) -> None:
    assert _untranslated(model) == []
