"""Topic classification speed and memory: the seed rules plus the shipped model, one core.

    python bench/topics.py [--rounds 5] [--messages 2000]

Loads the shipped model as a process does (`shipped.load_or_build` on
CSTRACKER_TOPIC_MODEL_FILE; run `manage.py build_topic_model` first, or the first run
trains it), then classifies customer messages one at a time, as the recording engine does,
through `classify_with_fallback` (rules, then the model where no rule is decisive). The
texts are the training set's (the evaluation set stays out of everything but evaluation),
cycled to --messages. Prints the resident memory the model, its sentence encoder and
scikit-learn add, and the median over --rounds of messages per second of CPU time (one
core): all messages, those that reach the model, and those the sentence encoder decides
(the dev set's messages on which the n-gram model is unsure, `ShippedModel.head_for`: on the
training texts the n-grams are sure far more often than on new mail).
Targets: < 300 MB extra resident, >= 500 messages/s on one core.
"""

from __future__ import annotations

import os

# One core: no BLAS or OpenMP threads (set before numpy is imported).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from _setup import median  # noqa: E402
from django.conf import settings  # noqa: E402

from inquiries.complaints.datasets import load_training_set  # noqa: E402
from inquiries.complaints.evaluation import DEV_DIR, load_eval_set  # noqa: E402
from inquiries.complaints.evidence import has_evidence  # noqa: E402
from inquiries.complaints.rules import DEFAULT_RULES, classify, compile_rules, is_decisive  # noqa: E402


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()

    rules = compile_rules(DEFAULT_RULES)
    before = resident_mb()
    from inquiries.complaints import shipped
    from inquiries.complaints.classifier import classify_with_fallback

    started = time.perf_counter()
    model = shipped.load_or_build(settings.CSTRACKER_TOPIC_MODEL_FILE or None)
    loaded_in = time.perf_counter() - started
    texts = [message.text for message in load_training_set()]
    classify_with_fallback(texts[0], None, rules, 1.0, shipped=model, evidence=has_evidence)  # warm up
    model.encoder.predict(texts[0])  # and load the encoder, which only unsure messages reach
    model.german_encoder.predict(texts[0])
    extra = resident_mb() - before
    dev = [message.text for message in load_eval_set(DEV_DIR)]
    unsure = [
        text
        for text in dev
        if model.head_for(text, model.ngrams.predict(text)[1]) is not None
        and not ((match := classify(text, rules)) and is_decisive(match))
    ]

    batch = list(itertools.islice(itertools.cycle(texts), args.messages))
    to_model = [text for text in batch if not ((match := classify(text, rules)) and is_decisive(match))]
    to_encoder = list(itertools.islice(itertools.cycle(unsure), args.messages // 4))
    rates: list[float] = []
    model_rates: list[float] = []
    encoder_rates: list[float] = []
    dev_rates: list[float] = []
    runs = ((batch, rates), (to_model, model_rates), (to_encoder, encoder_rates), (dev, dev_rates))
    for _ in range(args.rounds):
        for texts_, out in runs:
            # CPU time of this process: what one core spends, whatever else the machine runs.
            started = time.process_time()
            for text in texts_:
                classify_with_fallback(text, None, rules, 1.0, shipped=model, evidence=has_evidence)
            out.append(len(texts_) / (time.process_time() - started))
    print(f"model {model.version}: {len(model.labels)} topics, loaded in {loaded_in:.2f} s")
    print(f"extra resident memory (scikit-learn + model + encoder): {extra:.0f} MB (target < 300 MB)")
    print(
        f"messages/s, one at a time, one core: median {median(rates):.0f} over {args.rounds} rounds of "
        f"{len(batch)} (target >= 500)"
    )
    print(
        f"messages/s that no rule decides (the model runs): median {median(model_rates):.0f} "
        f"({len(to_model)} of {len(batch)} messages)"
    )
    print(
        f"messages/s that the sentence encoder decides: median {median(encoder_rates):.0f} "
        f"({len(unsure)} dev messages, cycled to {len(to_encoder)})"
    )
    print(
        f"messages/s over the dev set's {len(dev)} messages (new mail, all paths): median {median(dev_rates):.0f}"
    )


if __name__ == "__main__":
    main()
