"""The default rules every new installation starts with (seeded by migrations 0005 and 0038):
the keywords and phrases of each default topic, in several languages.
"""

from __future__ import annotations

from collections.abc import Sequence

from inquiries.complaints.rules.definitions import TopicRule


def _seed(
    topic: str, language: str, keywords: str = "", regexes: Sequence[str] = (), *, weight: float = 1.0
) -> list[TopicRule]:
    """Rules for one topic and language; `keywords` is a ";"-separated list, for compactness."""
    rules = [
        TopicRule(topic, k.strip(), "keyword", language, weight) for k in keywords.split(";") if k.strip()
    ]
    return rules + [TopicRule(topic, pattern, "regex", language, weight) for pattern in regexes]


# Seed rules, written from the wording of real marketplace buyer messages. Weights:
# 1.0 ordinary evidence; 1.5 for phrases that name the topic unambiguously ("my order has
# not arrived"); 0.8 for generic phrases that other topics use too ("not received" is said
# of refunds as well); 0.6 for questions and "other", so any complaint evidence wins.
# No pattern appears twice (a test checks), because duplicates would double-count.
DEFAULT_RULES: tuple[TopicRule, ...] = tuple(
    # --- product quality: defective, stopped working, poorly made ---------------------------
    _seed(
        "quality",
        "en",
        "defective; faulty; poor quality; bad quality; low quality; cheap quality; cheaply made;"
        "poorly made; malfunction*; stopped working; quit working; not working; fell apart;"
        "falling apart; came apart; dead on arrival; doa; counterfeit; fake",
        [
            r"\b(does|do|did|is|was|will|would)\s*(n'?t|not)\s+"
            r"(work|turn on|power on|charge|hold a charge|switch on)",
            r"\bwon'?t\s+(work|turn on|power on|charge|switch on)",
            r"\bbroke\s+(after|within|the first|on the first)",
            r"\b(peeling|ripped|torn|leaks?|leaking)\b",
        ],
    )
    + _seed(
        "quality",
        "de",
        "defekt; defekte*; fehlerhaft*; mangelhaft*; minderwertig*; schlechte Qualität;"
        "schlechter Qualität; funktioniert nicht; funktioniert nicht mehr; geht nicht mehr;"
        "kaputt gegangen; kaputtgegangen; geht nicht an; Fälschung",
        [
            r"\blasst sich nicht\s+(einschalten|laden|aufladen|offnen|bedienen)",
            r"\bnach\s+(\w+\s+){0,2}(tag|tagen|woche|wochen|monat|monaten)\s+(schon\s+)?(kaputt|defekt)",
        ],
    )
    + _seed(
        "quality",
        "es",
        "defectuoso; defectuosa; no funciona; dejó de funcionar; mala calidad; baja calidad;"
        "pésima calidad; no enciende; no carga; se descose; se despega; falsificado",
        [r"\bse\s+(rompio|estropeo|averio|descompuso)\s+(a los|despues|al)"],
    )
    + _seed(
        "quality",
        "fr",
        "défectueux; défectueuse; ne fonctionne pas; ne fonctionne plus; ne marche pas;"
        "ne marche plus; mauvaise qualité; qualité médiocre; en panne; tombé en panne;"
        "ne s'allume pas; ne charge pas; contrefaçon",
        [r"\b(s'est|est)\s+casse(e|s|es)?\s+(apres|au bout)"],
    )
    # "broken" alone may be a defect or transit damage; weaker than any "arrived broken" rule,
    # so the damaged topic wins when the message says how it arrived.
    + _seed("quality", "en", "broken", weight=0.8)
    + _seed("quality", "de", "kaputt", weight=0.8)
    + _seed("quality", "es", "roto; rota", weight=0.8)
    + _seed("quality", "fr", "cassé; cassée", weight=0.8)
    # --- damaged in transit: arrived broken, crushed box ------------------------------------
    + _seed(
        "damaged",
        "en",
        "damaged; smashed; shattered; cracked; dented; crushed; broken on arrival; damaged in transit;"
        "damaged in shipping; damaged during shipping; damaged during delivery; box was crushed",
        [
            r"\b(arrived|came|was delivered|got here|received it)\s+(completely\s+|totally\s+)?"
            r"(broken|cracked|damaged|smashed|shattered|dented|crushed|in pieces|scratched)",
        ],
    )
    + _seed(
        "damaged",
        "de",
        "beschädigt; beschaedigt; kaputt angekommen; beschädigt angekommen; defekt angekommen;"
        "zerbrochen; zerkratzt; zerdrückt; verbeult; Transportschaden; Glas gesprungen",
        [r"\b(ist|kam|war)\s+(\w+\s+){0,2}(kaputt|zerbrochen|beschadigt|zerkratzt)\s+(an|angekommen)\b"],
    )
    + _seed(
        "damaged",
        "es",
        "llegó roto; llegó rota; llegó dañado; llegó dañada; llegó en mal estado; dañado; dañada;"
        "dañados; golpeado; abollado; aplastado; agrietado; rajado; daños en el envío",
        [r"\b(llego|vino|recibi)\s+(\w+\s+){0,2}(roto|rota|rotos|rotas|quebrad[oa]s?|partid[oa]s?)\b"],
    )
    + _seed(
        "damaged",
        "fr",
        "endommagé; endommagée; endommagés; abîmé; abîmée; abîmés; écrasé; fissuré; fissurée;"
        "cabossé; arrivé en mauvais état; reçu en mauvais état",
        [
            r"\b(arrive|arrivee|arrives|recu|recue|livre|livree)\s+(\w+\s+){0,2}(casse|brise|ecrase)(e|s|es)?\b"
        ],
    )
    # --- wrong item: wrong size/colour/model, not as described ------------------------------
    + _seed(
        "wrong_item",
        "en",
        "wrong item; wrong product; wrong size; wrong color; wrong colour; wrong model; wrong one;"
        "not what I ordered; different item; different product; not as described; not as pictured;"
        "not as advertised; does not match the description; doesn't match the description",
        [r"\b(sent|shipped|received|got|gave)\s+(me\s+)?(the\s+|a\s+)?(wrong|incorrect|different)\b"],
    )
    + _seed(
        "wrong_item",
        "de",
        "falscher Artikel; falschen Artikel; falsche Artikel; falsches Produkt; falsche Größe;"
        "falsche Farbe; falsches Modell; falsche Ware; nicht bestellt; anderen Artikel;"
        "nicht wie beschrieben; entspricht nicht der Beschreibung",
        [r"\bfalsche[nrs]?\s+(teil|lieferung)"],
    )
    + _seed(
        "wrong_item",
        "es",
        "no es lo que pedí; no es lo que compré; me enviaron otro; me mandaron otro; no corresponde;"
        "no coincide con la descripción; diferente a la descripción; distinto al de la foto",
        [r"\b(articulo|producto|talla|color|modelo|pedido|numero)\s+(equivocad|incorrect|erron)[oa]s?\b"],
    )
    + _seed(
        "wrong_item",
        "fr",
        "mauvais article; mauvais produit; mauvaise taille; mauvaise couleur; mauvais modèle;"
        "pas ce que j'ai commandé; article différent; reçu un autre; non conforme; pas conforme;"
        "ne correspond pas",
    )
    # --- missing item or parts: incomplete, empty box ---------------------------------------
    + _seed(
        "missing",
        "en",
        "missing; missing parts; missing pieces; parts missing; incomplete; not included;"
        "wasn't included; was not included; empty box; box was empty; package was empty;"
        "only received one; only got one",
        [r"\bnot\s+in\s+the\s+(box|package|parcel)\b"],
    )
    + _seed(
        "missing",
        "de",
        "fehlt; fehlen; fehlende*; unvollständig; nicht enthalten; nicht dabei; nicht im Paket;"
        "leerer Karton; Paket war leer; Karton war leer; nur einen erhalten",
    )
    + _seed(
        "missing",
        "es",
        "falta; faltan; faltante*; incompleto; incompleta; no venía; no incluye; no incluía;"
        "caja vacía; paquete vacío; solo recibí uno",
    )
    + _seed(
        "missing",
        "fr",
        "il manque; manque; manquant*; incomplet; pas inclus; pas dans le colis;"
        "colis vide; boîte vide; carton vide",
    )
    # --- late or no delivery ------------------------------------------------------------------
    + _seed(
        "delivery",
        "en",
        "not arrived; hasn't arrived; has not arrived; never arrived; never received; not received;"
        "still waiting; not been delivered",
        weight=0.8,
    )
    + _seed(
        "delivery",
        "en",
        "late delivery; delivery is late; tracking shows; lost in transit; lost package; lost parcel;"
        "marked as delivered;"
        "says delivered; shows delivered; not delivered; delayed",
        [
            r"\b(order|package|parcel|shipment|item|delivery)\s+(still\s+)?(has|have|is|was)\s*"
            r"(n'?t|not|never)\s+(yet\s+)?(arrived|come|been delivered|shipped|been shipped)",
            r"\b(never|not|n'?t)\s+(yet\s+)?(received|got|gotten)\s+(my|the|this|our)\s+"
            r"(order|package|parcel|item|shipment|delivery)",
            r"\b(package|parcel|order|shipment)\s+(is|was|has gone|went)\s+(missing|lost)\b",
        ],
        weight=1.5,
    )
    + _seed(
        "delivery",
        "de",
        "nicht angekommen; nicht erhalten; nie angekommen; immer noch nicht",
        weight=0.8,
    )
    + _seed(
        "delivery",
        "de",
        "nicht geliefert; nicht zugestellt; als zugestellt markiert; Lieferverzögerung; verspätet;"
        "Paket verloren; Paket verschwunden",
        [
            r"\b(bestellung|paket|ware|sendung|lieferung)\s+(\w+\s+){0,4}(nicht|nie)\s+"
            r"(angekommen|erhalten|bekommen|geliefert)",
        ],
        weight=1.5,
    )
    + _seed(
        "delivery",
        "es",
        "no ha llegado; no llegó; no he recibido; todavía no llega; aún no llega",
        weight=0.8,
    )
    + _seed(
        "delivery",
        "es",
        "paquete perdido;"
        "pedido perdido; marcado como entregado; aparece como entregado; retraso en la entrega; retrasado",
        [
            r"\b(pedido|paquete|envio|producto|articulo)\s+(\w+\s+){0,3}no\s+(me\s+)?(ha\s+)?(llegado|llego|llega)",
            r"\bno\s+(me\s+)?(ha\s+)?(llegado|llego)\s+(mi|el|la)\s+(pedido|paquete|envio|producto|articulo|compra)",
            r"\bno\s+(he\s+)?(recibido|recibi)\s+(mi|el|la)\s+(pedido|paquete|envio|producto|articulo|compra)",
        ],
        weight=1.5,
    )
    + _seed(
        "delivery",
        "fr",
        "pas reçu; jamais reçu; pas arrivé; toujours rien; toujours pas",
        weight=0.8,
    )
    + _seed(
        "delivery",
        "fr",
        "colis perdu; commande perdue;"
        "marqué comme livré; indiqué comme livré; non livré; pas été livré; retard de livraison; en retard",
        [
            r"\b(pas|jamais)\s+(encore\s+|toujours\s+)?(recu|eu)\s+(ma|mon|la|le|les|mes)\s+"
            r"(commande|colis|article|paquet|produit|livraison)",
            r"\b(commande|colis|paquet|article)\s+(\w+\s+){0,3}(pas|jamais)\s+(encore\s+|toujours\s+)?"
            r"(arrive|livre|recu)",
        ],
        weight=1.5,
    )
    # --- order status: "where is my order" --------------------------------------------------
    # A question while the order is not yet due; once the promised delivery date has passed
    # the same words are a delivery complaint (`after_promised_delivery()`), and the message
    # that turns into an item-not-received claim when it goes unanswered.
    + _seed(
        "order_status",
        "en",
        "where is my order; where is my package; where is my parcel; where's my order; where's my package;"
        "tracking number; tracking info*; track my order; track my package; order status;"
        "status of my order; when will my order arrive; when will it arrive; when will I receive;"
        "estimated delivery; ETA; has my order shipped; has my order been shipped",
    )
    + _seed(
        "order_status",
        "de",
        "wo ist meine Bestellung; wo ist mein Paket; wo bleibt meine Bestellung; wo bleibt mein Paket;"
        "Sendungsverfolgung; Sendungsnummer; wann kommt meine Bestellung; wann kommt mein Paket;"
        "Lieferstatus; Bestellstatus; Lieferzeit; schon verschickt",
    )
    + _seed(
        "order_status",
        "es",
        "dónde está mi pedido; dónde está mi paquete; número de seguimiento; cuándo llega; cuándo llegará;"
        "estado de mi pedido; rastrear mi pedido; seguimiento de mi pedido",
    )
    + _seed(
        "order_status",
        "fr",
        "où est ma commande; où est mon colis; numéro de suivi; quand vais-je recevoir; quand arrivera;"
        "suivre ma commande; suivi de ma commande; état de ma commande; délai de livraison",
    )
    # --- returns and refunds (a cancellation undoes the purchase, so it counts here too) ----
    + _seed(
        "refund",
        "en",
        "refund*; reimburse*; money back; return label; return request; return policy; return it;"
        "return the item; return this; send it back; cancel my order; cancel the order; cancel this order",
        [r"\b(want|like|need|how (do|can) i)\s+(to\s+)?return\b"],
    )
    + _seed(
        "refund",
        "de",
        "Rückerstattung; erstatten; erstattet; Geld zurück; zurückschicken; zurücksenden;"
        "Rücksendung; Rücksendeetikett; Retoure; Widerruf; stornieren; Stornierung",
    )
    + _seed(
        "refund",
        "es",
        "reembolso; reembolsar; devolución; devolver; devuélvanme; mi dinero; etiqueta de devolución;"
        "cancelar mi pedido; cancelar el pedido",
    )
    + _seed(
        "refund",
        "fr",
        "rembours*; retourner; renvoyer; étiquette de retour; demande de retour; bon de retour;"
        "annuler ma commande; annulation; rétractation",
    )
    # --- billing and payment -------------------------------------------------------------------
    + _seed(
        "billing",
        "en",
        "invoice; receipt; billing; billed; double charged; charged twice; overcharged; chargeback;"
        "payment; credit card; card was declined; VAT; sales tax",
        [r"\b(was|were|been|got)\s+charged\b", r"\bcharged\s+(me|my|us)\b"],
    )
    + _seed(
        "billing",
        "de",
        "Rechnung; doppelt abgebucht; zweimal abgebucht; doppelt berechnet; Abbuchung; abgebucht;"
        "Zahlung; Kreditkarte; MwSt; Mehrwertsteuer",
    )
    + _seed(
        "billing",
        "es",
        "factura; me cobraron; cobro; cobrado dos veces; doble cargo; cargo duplicado; cargo indebido;"
        "pago; tarjeta de crédito; IVA",
    )
    + _seed(
        "billing",
        "fr",
        "facture; facturation; débité deux fois; prélevé deux fois; double prélèvement; prélèvement;"
        "paiement; carte bancaire; TVA",
    )
    # --- product questions (pre-sale) ---------------------------------------------------------
    + _seed(
        "question",
        "en",
        "compatible with; is it compatible; will it fit; does it fit; does it come with; what size;"
        "dimensions; in stock; back in stock; restock; how do I use; instructions; user manual",
        weight=0.6,
    )
    + _seed(
        "question",
        "de",
        "kompatibel; passt das; passt es; welche Größe; Abmessungen; auf Lager; wieder verfügbar;"
        "Bedienungsanleitung; Frage zum Artikel",
        weight=0.6,
    )
    + _seed(
        "question",
        "es",
        "es compatible; qué talla; medidas; dimensiones; hay stock; disponible en; instrucciones;"
        "manual de uso",
        weight=0.6,
    )
    + _seed(
        "question",
        "fr",
        "compatible avec; est-il compatible; quelle taille; mode d'emploi; la notice",
        weight=0.6,
    )
    # --- thanks and praise: weak, so any other evidence in the same message wins -------------------
    + _seed(
        "thanks", "en", "thank you; thanks; thx; many thanks; much appreciated; great service", weight=0.5
    )
    + _seed("thanks", "de", "danke; vielen Dank; herzlichen Dank; danke schön; toller Service", weight=0.5)
    + _seed("thanks", "es", "gracias; muchas gracias; mil gracias; buen servicio", weight=0.5)
    + _seed("thanks", "fr", "merci; merci beaucoup; mille mercis; super service", weight=0.5)
    # --- other: not about an order or a product ------------------------------------------------
    + _seed(
        "other",
        "en",
        "unsubscribe; newsletter; wholesale; partnership; collaboration; sponsorship",
        weight=0.6,
    )
    + _seed("other", "de", "abmelden; Großhandel; Kooperation; Zusammenarbeit", weight=0.6)
    + _seed("other", "es", "darme de baja; boletín; mayorista; colaboración; distribuidor", weight=0.6)
    + _seed("other", "fr", "désabonner; désinscrire; grossiste; partenariat", weight=0.6)
)
