"""manage.py train_topics: train and activate a new topic model version now (beat runs it daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from inquiries.services.topic_training import train_topic_model


class Command(BaseCommand):
    help = (
        "Train the topic classifier from agent-labelled inquiries (rule-labelled ones at a lower "
        "weight), store it as a new version and make it the active one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-samples",
            type=int,
            default=None,
            help="Skip training below this many labelled inquiries "
            "(default: CSTRACKER_TOPIC_MIN_TRAINING_SAMPLES).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        model = train_topic_model(min_samples=options["min_samples"])
        if model is None:
            self.stdout.write(
                "Skipped: not enough labelled inquiries (or only one topic); the current model stays."
            )
            return
        holdout = model.metrics.get("holdout")
        score = f", held-out macro-F1 {holdout['macro_f1']:.3f}" if holdout else ""
        self.stdout.write(
            f"Topic model v{model.version} is active: {model.agent_samples} agent-labelled and "
            f"{model.rule_samples} rule-labelled inquiries, topics {', '.join(model.labels)}{score}."
        )
