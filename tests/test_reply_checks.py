"""Amazon's buyer-messaging rules on real-looking replies in English, German, Spanish and French."""

from __future__ import annotations

import pytest

from inquiries.reply_checks import check, unconfirmed


def rules(text: str, marketplace: str = "amazon") -> set[str]:
    return {finding.rule for finding in check(text, marketplace)}


CLEAN = [
    "Hi Maria, I'm sorry your parcel is late. I've asked the carrier to trace order 302-1234567-8912345 "
    "and will write again tomorrow.",
    "Hallo Herr Schmidt, die Ersatzlieferung ist unterwegs, Sendungsnummer 1Z999AA10123456784. Viele Grüße",
    "Hola Lucía, lamentamos que el producto llegara dañado. Le enviamos un reemplazo sin coste hoy mismo.",
    "Bonjour Camille, nous avons bien reçu votre retour. Le remboursement sera effectué sous 3 jours.",
    "You can start the return from Your Orders: https://www.amazon.de/gp/css/order-history",
]


@pytest.mark.parametrize("text", CLEAN)
def test_it_lets_ordinary_replies_through(text: str) -> None:
    assert check(text, "amazon") == []


@pytest.mark.parametrize(
    "text",
    [
        "Please see the manual at https://acme-gadgets.com/manuals/kettle.pdf",
        "Alle Infos finden Sie auf www.acme-shop.de",
        "Puede ver las instrucciones en acme-gadgets.es/ayuda",
        "Consultez notre site acme.fr pour plus d'informations.",
    ],
)
def test_it_flags_links_outside_amazon(text: str) -> None:
    assert rules(text) == {"external_link"}


@pytest.mark.parametrize(
    "text",
    [
        "Glad we could help! If you're happy, please leave us a 5-star review.",
        "Would you consider removing your negative feedback now that it's sorted?",
        "Wir würden uns über eine positive Bewertung sehr freuen!",
        "Si está satisfecho, le agradeceríamos una reseña positiva.",
        "N'hésitez pas à laisser un avis 5 étoiles sur notre boutique.",
    ],
)
def test_it_flags_requests_for_positive_reviews_or_feedback(text: str) -> None:
    assert "review_request" in rules(text)


@pytest.mark.parametrize(
    "text",
    [
        "As a thank you, use discount code SAVE10 on your next order.",
        "Take a look at our other products, you may like the new kettle!",
        "Mit dem Gutscheincode DANKE15 erhalten Sie 15 % Rabatt.",
        "Con el código de descuento HOLA10 tiene un 10 % de descuento.",
        "Profitez de notre offre spéciale avec le code promo MERCI.",
    ],
)
def test_it_flags_marketing(text: str) -> None:
    assert "marketing" in rules(text)


@pytest.mark.parametrize(
    "text",
    [
        "Write to me directly at support@acme-gadgets.com and I'll sort it out.",
        "Call us on +44 20 7946 0958 any weekday.",
        "Rufen Sie uns gerne an: Telefon 030 1234 5678",
        "Llámenos al 912 345 678 y lo solucionamos.",
        "Appelez-nous au 01 23 45 67 89.",
    ],
)
def test_it_flags_personal_contact_details(text: str) -> None:
    assert "contact_details" in rules(text)


def test_an_amazon_order_id_or_a_tracking_number_is_not_a_phone_number() -> None:
    assert rules("Order 113-4567890-1234567, tracking 9400 1000 0000 0000 0000 00 shipped.") == set()


def test_several_rules_are_reported_once_each() -> None:
    text = "Leave us a positive review at www.acme.com and get a coupon! Mail me: bob@acme.com"
    assert rules(text) == {"external_link", "review_request", "marketing", "contact_details"}


def test_marketplaces_without_rules_check_nothing() -> None:
    assert check("Leave us a 5-star review at www.acme.com", "shop") == []


def test_a_confirmed_rule_is_no_longer_reported() -> None:
    findings = check("See www.acme.com, and leave a 5-star review!", "amazon")
    assert [f.rule for f in unconfirmed(findings, ["external_link"])] == ["review_request"]
