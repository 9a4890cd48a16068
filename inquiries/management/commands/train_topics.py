"""manage.py train_topics: retrain accounts' topic models from their labels now (beat runs it hourly)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inquiries.models import Account
from inquiries.services.topic_training import LearningResult, learn_all, learn_topics


class Command(BaseCommand):
    help = (
        "Train a candidate topic model per account from the agents' labels (on top of the shipped "
        "model) and keep it only if it scores better than the active one on the held-out labels."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, default=None, help="Only this account (id).")
        parser.add_argument(
            "--min-labels",
            type=int,
            default=None,
            help="With --account: train from this many labelled inquiries "
            "(default: CSTRACKER_TOPIC_MIN_TRAINING_SAMPLES).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["account"] is not None:
            account = Account.objects.filter(pk=options["account"]).first()
            if account is None:
                raise CommandError(f"no account with id {options['account']}")
            result = learn_topics(account=account, min_labels=options["min_labels"])
            results = [result] if result is not None else []
        else:
            results = learn_all()
        if not results:
            self.stdout.write(
                "Skipped: no account has enough new labels (or held-out labels); the current models stay."
            )
        for result in results:
            self.stdout.write(_line(result))


def _line(result: LearningResult) -> str:
    model, metrics = result.model, result.model.metrics
    candidate, compared = metrics["candidate"]["macro_f1"], metrics["compared"]
    verdict = "kept and active" if result.kept else "rejected"
    return (
        f"{model.account}: topic model v{model.version} {verdict}: held-out macro-F1 {candidate:.3f} "
        f"against {compared['macro_f1']:.3f} ({compared['name']}); {model.trained_labels} labels "
        f"trained on, {model.holdout_labels} held out."
    )
