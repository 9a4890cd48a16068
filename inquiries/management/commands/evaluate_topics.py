"""manage.py evaluate_topics: how well topics are assigned, on data the classifier never trained on.

    manage.py evaluate_topics [--set project|independent|both|dev|judge-de|judge-de2|...|judge-de6]

scores the out-of-the-box configuration (the seed rules and the shipped model; with
--rules-only the rules alone) on the
project's own evaluation set (`inquiries/complaints/data/eval`, four languages; with
`--set independent` the set written independently of the classifier,
`data/eval_independent`; `both` prints one after the other; `judge-de` the German set held out
to judge new German training data, `data/judge_de`; `judge-de2` a second one by other hands,
`data/judge_de2`; `judge-de3` a third, `data/judge_de3`; `judge-de4` a fourth, `data/judge_de4`;
`judge-de5` a fifth, `data/judge_de5`; `judge-de6` a sixth, `data/judge_de6`):
per-topic precision and recall, and per language the macro recall over complaint topics and the
complaint-or-not accuracy. With a CSV, it trains on part of someone else's labels and
reports on the rest:

    manage.py evaluate_topics data.csv --text-column instruction --label-column intent --mapping bitext
    manage.py evaluate_topics data.csv --text-column text --label-column label \
        --map "late=delivery,broken=quality"

Nothing is stored: this measures the classifier's settings on someone else's labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inquiries.complaints import shipped
from inquiries.complaints.classifier import TopicSource, classify_with_fallback
from inquiries.complaints.evaluation import (
    BITEXT_INTENT_TOPICS,
    BITEXT_LABEL_COLUMN,
    BITEXT_TEXT_COLUMN,
    EVAL_SETS,
    evaluate_csv,
    evaluate_project_set,
    load_eval_set,
)
from inquiries.complaints.evidence import has_evidence
from inquiries.complaints.rules import (
    DEFAULT_RULES,
    DEFAULT_TOPICS,
    after_promised_delivery,
    compile_rules,
)

MAPPINGS: dict[str, dict[str, str | None] | None] = {"bitext": BITEXT_INTENT_TOPICS, "none": None}

SET_DESCRIPTIONS = {
    "project": "the project's evaluation set, {count} messages in en/de/es/fr, written for cstracker "
    "and never trained on",
    "independent": "the independent evaluation set, {count} messages in en/de/es/fr, written without "
    "reading the classifier, its data or the project's set, never trained or tuned on",
    "dev": "the dev set, {count} messages in en/de/es/fr, written to choose the shipped model on "
    "(never trained on; not an independent test)",
    "judge-de": "the German judging set, {count} messages in de, written from the topic definitions "
    "alone to judge new German training data; trained on since measurement 10, so no test any more",
    "judge-de2": "the second German judging set, {count} messages in de, written from the topic "
    "definitions alone by other hands; trained on since measurement 10, so no test any more",
    "judge-de3": "the third German judging set, {count} messages in de, written from the topic "
    "definitions alone by further hands; trained on since measurement 10, so no test any more",
    "judge-de4": "the fourth German judging set, {count} messages in de, written from the topic "
    "definitions alone by further hands again; trained on since measurement 10, so no test any more",
    "judge-de5": "the fifth German judging set, {count} messages in de, written from the topic "
    "definitions alone by yet another hand; trained on since measurement 10, so no test any more",
    "judge-de6": "the sixth German judging set, {count} messages in de, written from the topic "
    "definitions alone by a sixth hand to judge new German training data, never trained or "
    "chosen on",
}


def parse_map(value: str) -> dict[str, str | None]:
    """Parse `a=delivery, b=, c=refund` into a mapping; an empty topic (b) drops that label."""
    mapping: dict[str, str | None] = {}
    for pair in value.split(","):
        if not pair.strip():
            continue
        label, sep, topic = pair.partition("=")
        if not sep or not label.strip():
            raise CommandError(f"--map: expected label=topic, got {pair.strip()!r}")
        mapping[label.strip()] = topic.strip() or None
    return mapping


class Command(BaseCommand):
    help = (
        "Evaluate topic assignment: without arguments, the out-of-the-box configuration on the "
        "project's evaluation set; with a labelled CSV, the classifier trained on part of it. "
        "Prints per-topic precision, recall, F1 and a confusion matrix."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "csv",
            type=Path,
            nargs="?",
            help="UTF-8 CSV with a header row; omit it to use the evaluation set.",
        )
        parser.add_argument("--text-column", default=BITEXT_TEXT_COLUMN, help="Column with the message text.")
        parser.add_argument("--label-column", default=BITEXT_LABEL_COLUMN, help="Column with the label.")
        parser.add_argument(
            "--mapping",
            choices=sorted(MAPPINGS),
            default="none",
            help="A built-in label mapping: 'bitext' maps Bitext's intents onto our topics; "
            "'none' uses the labels as topics (default).",
        )
        parser.add_argument(
            "--map",
            default="",
            help="label=topic pairs, comma-separated, added to (or overriding) --mapping; "
            "an empty topic drops that label. With --map alone, unmapped labels are dropped.",
        )
        parser.add_argument(
            "--rules-only",
            action="store_true",
            help="Without a CSV: score the seed rules alone, without the shipped model.",
        )
        parser.add_argument(
            "--set",
            dest="eval_set",
            choices=[*EVAL_SETS, "both"],
            default="project",
            help="Without a CSV: which evaluation set to score: the project's (default), the "
            "independent one (data/eval_independent), both, one after the other, the dev set "
            "the shipped model was chosen on (data/dev), or the German set held out to judge new "
            "German training data (data/judge_de), or the second, third, fourth, fifth or sixth one "
            "(data/judge_de2, data/judge_de3, data/judge_de4, data/judge_de5, data/judge_de6).",
        )
        parser.add_argument("--test-size", type=float, default=0.25, help="Held-out share (default 0.25).")
        parser.add_argument("--seed", type=int, default=42, help="Seed of the stratified split (default 42).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["csv"] is None:
            names = ["project", "independent"] if options["eval_set"] == "both" else [options["eval_set"]]
            self.stdout.write(
                "\n\n".join(self._project_set(name, rules_only=options["rules_only"]) for name in names)
            )
            return
        base = MAPPINGS[options["mapping"]]
        extra = parse_map(options["map"])
        mapping = {**(base or {}), **extra} if (base is not None or extra) else None
        if not 0 < options["test_size"] < 1:
            raise CommandError("--test-size must be between 0 and 1")
        try:
            report = evaluate_csv(
                options["csv"],
                options["text_column"],
                options["label_column"],
                mapping,
                test_size=options["test_size"],
                seed=options["seed"],
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(report.format())

    def _project_set(self, name: str, *, rules_only: bool) -> str:
        messages = load_eval_set(EVAL_SETS[name])
        rules = compile_rules(DEFAULT_RULES)
        model = None if rules_only else shipped.load_or_build(settings.CSTRACKER_TOPIC_MODEL_FILE or None)
        predicted = []
        for message in messages:
            decision = classify_with_fallback(
                message.text, None, rules, 1.0, shipped=model, evidence=has_evidence
            )
            topic = None if decision.source == TopicSource.DEFAULT else decision.topic
            predicted.append(after_promised_delivery(topic, message.overdue))
        training = "" if model is None else f" and the shipped model {model.version}"
        evaluation = evaluate_project_set(
            messages,
            predicted,
            [topic.key for topic in DEFAULT_TOPICS if topic.is_complaint],
            notes=(
                "data: " + SET_DESCRIPTIONS[name].format(count=len(messages)),
                f"classifier: the seed rules{training}; (none) = no topic",
                "",
            ),
        )
        return evaluation.format()
