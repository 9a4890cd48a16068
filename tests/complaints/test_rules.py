import pytest

from inquiries.complaints.rules import (
    DEFAULT_RULES,
    DEFAULT_TOPICS,
    MAX_TEXT_CHARS,
    TOPIC_PRIORITY,
    TopicRule,
    after_promised_delivery,
    classify,
    compile_rules,
    normalise,
)


@pytest.fixture(scope="module")
def default_rules():
    return compile_rules(DEFAULT_RULES)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        # English
        ("The mug arrived broken, the handle was smashed.", "damaged"),
        ("You sent me the wrong size, I ordered a medium.", "wrong_item"),
        ("Two screws are missing from the box.", "missing"),
        ("The blender stopped working after two days.", "quality"),
        ("My order hasn't arrived yet, it's been three weeks.", "delivery"),
        ("I would like a refund please.", "refund"),
        ("I was charged twice for this order.", "billing"),
        ("Is this case compatible with the iPhone 15?", "question"),
        ("Please unsubscribe me from your newsletter.", "other"),
        # German
        ("Die Vase ist leider kaputt angekommen.", "damaged"),
        ("Ich habe die falsche Größe erhalten.", "wrong_item"),
        ("Es fehlen zwei Schrauben.", "missing"),
        ("Der Mixer funktioniert nicht mehr.", "quality"),
        ("Meine Bestellung ist immer noch nicht angekommen.", "delivery"),
        ("Ich möchte eine Rückerstattung.", "refund"),
        ("Der Betrag wurde doppelt abgebucht.", "billing"),
        ("Passt das auch für ein Galaxy S23?", "question"),
        ("Bitte vom Newsletter abmelden.", "other"),
        # Spanish
        ("El jarrón llegó roto.", "damaged"),
        ("Me enviaron otro modelo, la talla equivocada.", "wrong_item"),
        ("Faltan piezas para el montaje.", "missing"),
        ("No funciona, muy mala calidad.", "quality"),
        ("Mi pedido todavía no me ha llegado.", "delivery"),
        ("Quiero un reembolso.", "refund"),
        ("Me cobraron dos veces, necesito la factura.", "billing"),
        ("¿Es compatible con el modelo anterior?", "question"),
        ("Quiero darme de baja del boletín.", "other"),
        # French
        ("Le colis est arrivé cassé.", "damaged"),
        ("J'ai reçu le mauvais article.", "wrong_item"),
        ("Il manque des pièces.", "missing"),
        ("L'appareil ne fonctionne plus après une semaine.", "quality"),
        ("Je n'ai toujours pas reçu ma commande.", "delivery"),
        ("Je voudrais être remboursé.", "refund"),
        ("J'ai été débité deux fois, merci de vérifier la facture.", "billing"),
        ("Est-il compatible avec la version 2 ?", "question"),
        ("Comment me désabonner ?", "other"),
    ],
)
def test_default_rules_classify_typical_buyer_messages(default_rules, text, topic):
    match = classify(text, default_rules)
    assert match is not None
    assert match.topic == topic


def test_default_rules_cover_every_topic_in_four_languages():
    covered = {(rule.topic, rule.language) for rule in DEFAULT_RULES}
    for topic in DEFAULT_TOPICS:
        for language in ("en", "de", "es", "fr"):
            assert (topic.key, language) in covered


def test_default_rules_have_no_duplicate_patterns_that_would_double_count():
    folded = [normalise(rule.pattern).casefold() for rule in DEFAULT_RULES]
    assert len(folded) == len(set(folded))


def test_default_topics_flag_complaints_and_health_categories():
    by_key = {topic.key: topic for topic in DEFAULT_TOPICS}
    assert set(by_key) == set(TOPIC_PRIORITY)
    assert {key for key, topic in by_key.items() if not topic.is_complaint} == {
        "question",
        "order_status",
        "thanks",
        "other",
    }
    assert by_key["quality"].health_category == "product_condition"
    assert by_key["damaged"].health_category == "delivery"
    assert by_key["billing"].health_category == "none"


def test_it_returns_none_when_no_rule_matches(default_rules):
    assert classify("Hello, see you next week!", default_rules) is None


def test_thanks_is_its_own_topic_and_any_complaint_in_the_same_message_wins(default_rules):
    assert classify("Hello, thank you for your quick answer!", default_rules).topic == "thanks"
    assert classify("Vielen Dank, aber das Paket kam beschädigt an", default_rules).topic == "damaged"


@pytest.mark.parametrize(
    "text",
    ["Where is my order?", "Wo bleibt mein Paket?", "¿Dónde está mi pedido?", "Où est ma commande ?"],
)
def test_where_is_my_order_is_an_order_status_question_until_the_promised_date_has_passed(
    default_rules, text
):
    topic = classify(text, default_rules).topic
    assert topic == "order_status"
    assert after_promised_delivery(topic, overdue=False) == "order_status"
    assert after_promised_delivery(topic, overdue=None) == "order_status"
    assert after_promised_delivery(topic, overdue=True) == "delivery"
    assert after_promised_delivery("refund", overdue=True) == "refund"


def test_keywords_ignore_case_and_accents():
    rules = compile_rules([TopicRule("damaged", "beschädigt", "keyword", "de")])
    assert classify("BESCHADIGT angekommen", rules) is not None
    assert classify("völlig Beschädigt", rules) is not None


def test_keywords_match_whole_words_unless_they_end_with_a_star():
    exact = compile_rules([TopicRule("refund", "refund", "keyword", "en")])
    prefix = compile_rules([TopicRule("refund", "refund*", "keyword", "en")])
    assert classify("I was refunded", exact) is None
    assert classify("I was refunded", prefix).matched == ("refund*",)
    assert classify("nonrefundable", prefix) is None


def test_keyword_phrases_tolerate_extra_whitespace_and_typographic_apostrophes():
    rules = compile_rules([TopicRule("wrong_item", "not what I ordered", "keyword", "en")])
    assert classify("This is   NOT what\nI ordered", rules) is not None
    french = compile_rules([TopicRule("wrong_item", "pas ce que j'ai commandé", "keyword", "fr")])
    assert classify("Ce n'est pas ce que j\u2019ai commande", french) is not None


def test_the_damage_outranks_the_refund_it_leads_to(default_rules):
    assert classify("It arrived damaged and I want a refund.", default_rules).topic == "damaged"


def test_a_refund_not_received_is_not_a_delivery_problem(default_rules):
    assert classify("I still haven't received my refund.", default_rules).topic == "refund"


def test_a_missing_parcel_is_a_delivery_problem_not_a_missing_part(default_rules):
    assert classify("My package is missing.", default_rules).topic == "delivery"


def test_weights_add_up_per_topic_and_the_highest_score_wins():
    rules = compile_rules(
        [
            TopicRule("damaged", "cracked", "keyword", "en"),
            TopicRule("refund", "refund", "keyword", "en"),
            TopicRule("refund", "money back", "keyword", "en"),
        ]
    )
    match = classify("Cracked screen. Refund or money back, please.", rules)
    assert match.topic == "refund"
    assert match.score == 2.0
    assert match.matched == ("refund", "money back")


def test_ties_are_broken_by_topic_priority_whatever_the_rule_order():
    rules = [
        TopicRule("refund", "refund", "keyword", "en"),
        TopicRule("damaged", "cracked", "keyword", "en"),
        TopicRule("custom", "screen", "keyword", "en"),
    ]
    text = "Cracked screen, refund please"
    for ordering in (rules, rules[::-1], rules[1:] + rules[:1]):
        assert classify(text, compile_rules(ordering)).topic == "damaged"
    # A topic unknown to the priority list ranks after the listed ones.
    assert classify(text, compile_rules(rules, priority=["refund"])).topic == "refund"


def test_a_bad_regex_is_refused_with_a_message_naming_the_rule():
    with pytest.raises(
        ValueError, match=r"regex rule 'broken\(' \(damaged, en\): invalid regular expression"
    ):
        compile_rules(
            [TopicRule("damaged", "fine", "keyword", "en"), TopicRule("damaged", "broken(", "regex", "en")]
        )


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(\w+\s?)*x", r"(x|y*){2,}"])
def test_regexes_prone_to_catastrophic_backtracking_are_refused(pattern):
    with pytest.raises(ValueError, match="nested repetition"):
        compile_rules([TopicRule("other", pattern, "regex", "en")])


def test_bounded_repetition_of_a_group_is_allowed():
    rules = compile_rules([TopicRule("damaged", r"arrived\s+(\w+\s+){0,2}broken", "regex", "en")])
    assert classify("it arrived totally broken", rules).topic == "damaged"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (TopicRule("damaged", "   ", "keyword", "en"), "the pattern is empty"),
        (TopicRule("", "cracked", "keyword", "en"), "the topic is empty"),
        (TopicRule("damaged", "cracked", "keyword", "en", weight=0), "weight must be a positive"),
        (TopicRule("damaged", "cracked", "glob", "en"), "kind must be"),  # type: ignore[arg-type]  # an invalid kind, on purpose
        (TopicRule("damaged", "x?", "regex", "en"), "matches empty text"),
        (TopicRule("refund", "*", "keyword", "en"), r"keyword rule '\*' \(refund, en\): a keyword needs"),
    ],
)
def test_invalid_rules_are_refused(rule, message):
    with pytest.raises(ValueError, match=message):
        compile_rules([rule])


def test_only_the_first_max_text_chars_are_examined():
    rules = compile_rules([TopicRule("damaged", "smashed", "keyword", "en")])
    assert classify("x " * MAX_TEXT_CHARS + "smashed", rules) is None
    assert classify("smashed " + "x " * MAX_TEXT_CHARS, rules) is not None


def test_classification_is_deterministic(default_rules):
    text = "Paket kam beschädigt an, falsche Farbe, Rechnung fehlt, refund please"
    results = {classify(text, compile_rules(DEFAULT_RULES)) for _ in range(3)}
    assert len(results) == 1
    assert results == {classify(text, default_rules)}


def _searching_everything(compiled):
    """The same rules with no shortcuts: every regex searched through the whole text."""
    from inquiries.complaints.rules.matching import CompiledRules, _CompiledRule

    return CompiledRules(
        rules=tuple(_CompiledRule(item.rule, item.regex) for item in compiled.rules),
        priority=compiled.priority,
    )


@pytest.mark.parametrize(
    "text",
    [
        "you charged me twice",
        "xcharged me twice",  # the word inside another: \b fails where it occurs
        "It WON'T turn on. It won't charge. wont work",
        "broke broke broke after a week",  # the regex fails at the first occurrences, matches later
        "unbroken; it broke within days",
        "Order order ORDER has not arrived",
        "the parcel was not delivered, my package has not arrived yet",
        "it leaks and is leaking",
        "lasst sich nicht einschalten / lässt sich nicht laden",  # non-ASCII: searched as before
        "refunded, refunds, refund* and n'est pas",
        "no me ha llegado mi pedido",  # anchors shorter than three letters ("no")
        "Das Gerät lasst s\u0131ch nicht laden",  # re.IGNORECASE matches a dotless i to "i"
        "se rompio a los dos dias",
        "malfunctioning after it was dead on arrival",
        "",
    ],
)
def test_trying_regexes_only_where_their_first_word_occurs_finds_what_a_full_search_finds(
    default_rules, text
):
    assert classify(text, default_rules) == classify(text, _searching_everything(default_rules))


def test_anchors_of_a_regex_with_a_top_level_alternative_are_not_trusted():
    compiled = compile_rules([TopicRule("refund", r"\bcharged\s+twice|money back", "regex", "en")])
    assert compiled.rules[0].anchors == ()
    assert compiled.rules[0].starts == ()
    assert classify("I want my money back", compiled).topic == "refund"
    leading = compile_rules([TopicRule("refund", r"\bleaks?\s+(badly|a lot)", "regex", "en")])
    assert leading.rules[0].starts == ("leak",)  # an optional last letter is no anchor
    assert classify("It leak badly", leading).topic == "refund"


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"(very )?broken", "it is broken"),  # an optional leading group is no anchor
        (r"\b(broken|cracked)*\s*glass", "glass"),
        (r"broken[](]?|smashed", "it arrived smashed"),  # "]" first in a class is a character
        (r"broken[^](]?|smashed", "it arrived smashed"),
        (r"broken(?#(|)x|smashed", "it arrived smashed"),  # a comment may hide anything
    ],
)
def test_regexes_whose_opening_words_a_match_may_lack_get_no_anchors(pattern, text):
    compiled = compile_rules([TopicRule("damaged", pattern, "regex", "en")])
    assert (compiled.rules[0].anchors, compiled.rules[0].starts) == ((), ())
    assert classify(text, compiled).topic == "damaged"
