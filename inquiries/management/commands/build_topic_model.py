"""manage.py build_topic_model: train the topic model that ships with cstracker and store it.

Run it at install (and after an upgrade), like collectstatic: it trains from the repository's
own training set (`inquiries/complaints/data/train`, and the German sets of
`datasets.GERMAN_TRAIN_DIRS`), deterministically, and writes the model
to CSTRACKER_TOPIC_MODEL_FILE, where every process loads it from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inquiries.complaints import shipped
from inquiries.complaints.datasets import load_german_training_set, load_training_set


class Command(BaseCommand):
    help = "Train the shipped topic model from the repository's training set and store it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            help="Where to write it (default: CSTRACKER_TOPIC_MODEL_FILE).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["output"] or Path(settings.CSTRACKER_TOPIC_MODEL_FILE)
        messages, german = load_training_set(), load_german_training_set()
        model = shipped.build()
        try:
            shipped.write(model, path)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc}") from exc
        if options["verbosity"] > 0:
            self.stdout.write(
                f"topic model {model.version}: {len(messages)} training messages and "
                f"{len(german)} German ones, "
                f"{len(model.labels)} topics, written to {path}"
            )
