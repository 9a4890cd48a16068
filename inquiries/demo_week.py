"""A believable week of a small home-goods shop, planned in memory (no Django, no database).

`plan_week(seed=..., now=..., inquiries=...)` decides everything the demo records: who writes,
when (daytime-heavy, quieter weekends), about what and which order, when an agent answers
(agents work 08:00-20:00 in the shop's zone, every day; most answers come within the SLA, a
few late, a couple not yet), what they answer (written per topic: a delivery question gets
the parcel's tracking, a broken item a replacement or refund), follow-ups, and the order,
shipment and feedback rows of the Amazon account. `manage.py seed_demo` records the plan
through the services. The same seed and `now` give the same plan. All texts are our own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

PRODUCTS = [
    ("AH-KETTLE-02", "glass electric kettle", "B0DEMO0002", "49.99"),
    ("AH-LAMP-11", "bedside lamp", "B0DEMO0011", "34.50"),
    ("AH-MUG-SET4", "set of four stoneware mugs", "B0DEMO0004", "29.00"),
    ("AH-THROW-07", "knitted throw blanket", "B0DEMO0007", "39.95"),
    ("AH-FRAME-35", "oak picture frame", "B0DEMO0035", "19.99"),
    ("AH-CANDLE-3", "soy candle trio", "B0DEMO0003", "24.00"),
    ("AH-VASE-09", "ceramic vase", "B0DEMO0009", "27.50"),
    ("AH-TRAY-14", "walnut serving tray", "B0DEMO0014", "32.00"),
    ("AH-CUSH-21", "linen cushion cover", "B0DEMO0021", "18.50"),
    ("AH-CLOCK-05", "wall clock", "B0DEMO0005", "44.00"),
    ("AH-PLANT-16", "hanging planter", "B0DEMO0016", "22.00"),
    ("AH-BOARD-08", "bamboo chopping board", "B0DEMO0008", "26.00"),
    ("AH-RUG-30", "cotton bath mat", "B0DEMO0030", "21.00"),
]
PRODUCT_NAMES = {sku: name for sku, name, _asin, _price in PRODUCTS}

FIRST_NAMES = ["Maya", "Jonas", "Priya", "Tomás", "Aisha", "Liam", "Sofia", "Kenji", "Olga", "Daniel"]
FIRST_NAMES += ["Chloé", "Mateo", "Hannah", "Yusuf", "Grace", "Noah"]
LAST_NAMES = ["Keller", "Okafor", "Novak", "Silva", "Larsen", "Moreau", "Tanaka", "Brennan", "Haddad"]
LAST_NAMES += ["Weiss", "Costa", "Nguyen", "Patel"]
CARRIERS = [("UPS", "1Z"), ("USPS", "9400"), ("AMZN_US", "TBA")]

# Topic key -> how often it comes up in an ordinary week (per 100 inquiries).
TOPIC_WEIGHTS = {
    "order_status": 18,
    "delivery": 15,
    "question": 14,
    "damaged": 10,
    "quality": 9,
    "refund": 11,
    "wrong_item": 7,
    "missing": 7,
    "billing": 5,
}

# Topic key -> (subject, body) the customer writes; {product}, {order}. An empty subject is a
# chat-style message (marketplace chat, a contact form without a subject line).
ASKS: dict[str, list[tuple[str, str]]] = {
    "order_status": [
        (
            "When will my order ship?",
            "I ordered the {product} two days ago (order {order}) and it still says "
            "unshipped. When will it go out?",
        ),
        ("", "hi, has my {product} been sent yet? order {order}"),
        (
            "Order status",
            "Could you tell me when order {order} will arrive? I need the {product} by the weekend.",
        ),
    ],
    "delivery": [
        (
            "Where is my order?",
            "My order {order} was supposed to arrive on Tuesday and the tracking has not "
            "moved since. Where is my package?",
        ),
        (
            "Package not delivered",
            "Tracking says delivered but I never received the {product}. I checked with "
            "the neighbours too. Order {order}.",
        ),
        ("", "my parcel with the {product} is late, tracking stuck for 4 days. order {order}"),
    ],
    "question": [
        (
            "Question about the {product}",
            "Is the {product} dishwasher safe? And does it come in another colour?",
        ),
        ("Gift wrapping?", "Can you gift wrap the {product} and add a card if I order today?"),
        ("", "does the {product} come with a warranty? thinking of buying two"),
    ],
    "damaged": [
        (
            "Item arrived broken",
            "My {product} arrived broken today, the box was crushed. Order {order}. "
            "Can you send a replacement?",
        ),
        (
            "Damaged in shipping",
            "The {product} came cracked, there are pieces loose in the parcel. Order {order}.",
        ),
    ],
    "quality": [
        (
            "Stopped working after a week",
            "The {product} stopped working after one week of normal use. Really "
            "disappointed with the quality. Order {order}.",
        ),
        (
            "Poor quality",
            "The {product} feels cheap and the finish is peeling already. Not what the photos "
            "showed. Order {order}.",
        ),
    ],
    "refund": [
        (
            "Return and refund",
            "I would like to return the {product} and get a refund, it doesn't suit the room. Order {order}.",
        ),
        (
            "Refund not received",
            "I sent the {product} back two weeks ago and still have no refund. Order {order}.",
        ),
    ],
    "wrong_item": [
        (
            "Wrong item received",
            "I ordered the {product} but received something completely different. Order "
            "{order}. Please advise.",
        ),
    ],
    "missing": [
        ("Missing parts", "The {product} arrived but part of it is missing from the box. Order {order}."),
        (
            "Only part of my order came",
            "I only received one parcel for order {order}, the {product} is missing.",
        ),
    ],
    "billing": [
        ("Charged twice", "I was charged twice for order {order}. Please refund the duplicate payment."),
        (
            "Wrong price charged",
            "The {product} was on offer but I was charged the full price. Order {order}.",
        ),
    ],
}

# Topic key -> the agent's answers; {first} {product} {order} {carrier} {tracking} {agent}.
ANSWERS: dict[str, list[str]] = {
    "order_status": [
        "Hi {first}, your {product} left our warehouse this morning with {carrier}, tracking number {tracking}. "
        "It should be with you in 2-3 days. Best, {agent}",
        "Hello {first}, thanks for checking in. Order {order} has shipped: {carrier} tracking {tracking}. "
        "The carrier estimates delivery within three working days. {agent}",
    ],
    "delivery": [
        "Hi {first}, I'm sorry the parcel is late. I have opened a trace with {carrier} for tracking number "
        "{tracking}; if it hasn't moved in 48 hours I will send a new one at no cost. {agent}",
        "Hello {first}, sorry about this. {carrier} shows the parcel ({tracking}) as delivered, so I've asked "
        "them for the GPS proof of delivery. If it doesn't turn up by tomorrow, I'll ship a replacement "
        "straight away. {agent}",
    ],
    "question": [
        "Hi {first}, good question: the {product} is dishwasher safe on the top rack, and for now it comes in "
        "the colour shown only. {agent}",
        "Hello {first}, yes, we can gift wrap the {product} and add a handwritten card; just put the message in "
        "the order notes. {agent}",
        "Hi {first}, the {product} comes with a two-year warranty, and we replace it if anything goes wrong. "
        "{agent}",
    ],
    "damaged": [
        "Hi {first}, I'm so sorry your {product} arrived damaged. I've sent a replacement today, you'll get the "
        "tracking by e-mail; no need to return the broken one. {agent}",
        "Hello {first}, sorry about the damage. Could you send a photo of the box? I've already refunded order "
        "{order} in full, or I can send a replacement if you prefer. {agent}",
    ],
    "quality": [
        "Hi {first}, I'm sorry the {product} let you down. I've arranged a free replacement from a new batch; "
        "if you'd rather have a refund, just say so. {agent}",
        "Hello {first}, that is not the quality we stand for. I've issued a full refund for order {order}, and "
        "you don't need to send the {product} back. {agent}",
    ],
    "refund": [
        "Hi {first}, no problem: I've sent you a prepaid return label for the {product}. The refund goes out "
        "the day it reaches us. {agent}",
        "Hello {first}, sorry for the wait. Your return arrived and I've just issued the refund for order "
        "{order}; it shows on your card within 3-5 days. {agent}",
    ],
    "wrong_item": [
        "Hi {first}, sorry for the mix-up! The right {product} ships today, and here is a prepaid label to "
        "return the wrong item whenever suits you. {agent}",
    ],
    "missing": [
        "Hi {first}, sorry about the missing piece. I've sent the missing part for your {product} by express "
        "post today, tracking {tracking}. {agent}",
        "Hello {first}, the {product} went in a separate parcel: {carrier} tracking {tracking}. If it isn't "
        "there by Friday, I'll send another one. {agent}",
    ],
    "billing": [
        "Hi {first}, you're right, the payment was taken twice. I've refunded the duplicate charge for order "
        "{order}; your bank shows it within a few days. {agent}",
        "Hello {first}, sorry about that: I've refunded the difference to the offer price for order {order}. "
        "{agent}",
    ],
}

# Topic key -> (the customer's follow-up, the agent's answer to it).
FOLLOW_UPS: dict[str, tuple[str, str]] = {
    "order_status": (
        "Thanks! The tracking link says label created only, is that normal?",
        "Hi {first}, yes: {carrier} scans it at the first depot, usually within a day. {agent}",
    ),
    "delivery": (
        "Still nothing here and the tracking hasn't changed. What now?",
        "Hi {first}, then we won't wait any longer: a new parcel goes out today, tracking to follow. {agent}",
    ),
    "question": (
        "Great, thanks. Can I order two and have them sent to different addresses?",
        "Hi {first}, yes, just place two orders with each address. {agent}",
    ),
    "damaged": (
        "Thanks. Do I need to keep the broken one for the courier?",
        "Hi {first}, no, please recycle it; the replacement is on its way. {agent}",
    ),
    "quality": (
        "Ok, a replacement is fine. Will the new one be the same model?",
        "Hi {first}, yes, the same model from the new batch, already checked by us. {agent}",
    ),
    "refund": (
        "I dropped the parcel off today. How long until the refund?",
        "Hi {first}, thanks: the refund goes out the day it arrives, usually within a week. {agent}",
    ),
    "wrong_item": (
        "Got the label, thanks. Do I send it back in the same box?",
        "Hi {first}, any sturdy box is fine, the label covers the postage. {agent}",
    ),
    "missing": (
        "The tracking number you gave me doesn't work yet.",
        "Hi {first}, it activates once the carrier scans it tonight; it should show by tomorrow. {agent}",
    ),
    "billing": (
        "I still see both charges on my statement.",
        "Hi {first}, the refund is pending at your bank and disappears in 3-5 days. {agent}",
    ),
}

# (SKU, topic key, subject, body, how many, over how many hours): the week's two product problems.
BURSTS = [
    (
        "AH-KETTLE-02",
        "quality",
        "Kettle stopped heating",
        "My glass electric kettle stopped heating after a few days, the light comes on but nothing happens. "
        "Order {order}.",
        8,
        36,
    ),
    (
        "AH-LAMP-11",
        "damaged",
        "Lamp shade dented",
        "The bedside lamp arrived with the shade dented and the base scratched, the box was crushed. Order {order}.",
        5,
        70,
    ),
]

# Customers write in their own words: these vary each message around its topic's text (and keep
# ordinary complaints from reading as near-identical texts, which would make clusters of them).
OPENINGS = ["Hi,", "Hello,", "Good morning.", "Hi there!", "Dear seller,", "Hey,", "", ""]
DETAILS = [
    "I have bought from you before and this never happened.",
    "It was meant to be a birthday present for my sister.",
    "Please let me know what you need from me.",
    "I paid for faster shipping.",
    "My partner says I should write, so here I am.",
    "We are moving house next week, so timing matters.",
    "",
    "",
]
CLOSINGS = [
    "Thanks.",
    "Regards",
    "Thank you in advance!",
    "Please help.",
    "Best,",
    "Waiting for your answer.",
    "",
]

BURST_SKUS = {burst[0] for burst in BURSTS}
COMPLAINTS = {"delivery", "damaged", "quality", "refund", "wrong_item", "missing", "billing"}

AGENT_DAY = (8, 20)  # agents answer between these local hours, every day (weekends a bit slower)
BUSY_HOURS = [0.3] * 7 + [1.2, 2.0, 2.6, 2.8, 2.6, 2.4, 2.4, 2.2, 2.0, 1.8, 1.8, 2.0, 2.0, 1.8, 1.4, 0.9, 0.5]


@dataclass
class PlannedOrder:
    order_id: str
    sku: str
    purchased_at: datetime
    quantity: int = 1
    fba: bool = True
    status: str = "Shipped - Delivered to Buyer"
    shipped_at: datetime | None = None
    carrier: str = ""
    tracking: str = ""
    buyer_email: str = ""
    feedback: tuple[int, str, datetime] | None = None  # rating, comment, left at


@dataclass
class PlannedReply:
    at: datetime
    text: str
    status: str  # the inquiry's status set with the reply: solved, pending or open


@dataclass
class PlannedInquiry:
    index: int
    account: int  # 0 Amazon, 1 Walmart, 2 own shop
    topic: str
    sku: str
    subject: str
    body: str
    order_id: str
    received_at: datetime
    first_name: str
    last_name: str
    address: str
    priority: str = "normal"
    reply: PlannedReply | None = None
    follow_up: tuple[datetime, str] | None = None
    second_reply: PlannedReply | None = None
    late: bool = False
    order: PlannedOrder | None = None


@dataclass
class Week:
    inquiries: list[PlannedInquiry] = field(default_factory=list)
    orders: list[PlannedOrder] = field(default_factory=list)  # the Amazon account's, last 60 days


def plan_week(*, seed: int, now: datetime, inquiries: int, zone: str = "America/New_York") -> Week:
    """The whole demo week ending at `now` (aware): `inquiries` ordinary ones plus the bursts."""
    rng = random.Random(seed)
    tz = ZoneInfo(zone)
    week = Week()
    for index in range(inquiries):
        topic = rng.choices(list(TOPIC_WEIGHTS), weights=list(TOPIC_WEIGHTS.values()))[0]
        sku = rng.choice(PRODUCTS)[0]
        if topic in COMPLAINTS and sku in BURST_SKUS and rng.random() < 0.7:
            sku = rng.choice([product for product, *_rest in PRODUCTS if product not in BURST_SKUS])
        subject, body = rng.choice(ASKS[topic])
        account = rng.choices([0, 1, 2], weights=[5, 3, 3])[0]
        week.inquiries.append(
            _inquiry(rng, index, account, topic, sku, subject, body, _arrival(rng, now, tz), now)
        )
    index = inquiries
    for sku, topic, subject, body, count, hours in BURSTS:
        for _ in range(count):
            received = (now - timedelta(hours=rng.uniform(1, hours))).replace(microsecond=0)
            week.inquiries.append(_inquiry(rng, index, 0, topic, sku, subject, body, received, now))
            index += 1
    week.inquiries.sort(key=lambda planned: planned.received_at)
    _plan_answers(rng, week.inquiries, now, tz, unanswered=inquiries // 150)
    week.orders = _background_orders(rng, now) + [
        p.order for p in week.inquiries if p.order and p.account == 0
    ]
    week.orders.sort(key=lambda order: order.purchased_at)
    return week


def _arrival(rng: random.Random, now: datetime, tz: ZoneInfo) -> datetime:
    """A moment in the last 7 days, busier in the day and on weekdays (rejection sampling)."""
    top = max(BUSY_HOURS)
    while True:
        at = now - timedelta(seconds=rng.uniform(0, 7 * 86400))
        local = at.astimezone(tz)
        weight = BUSY_HOURS[local.hour] * (0.7 if local.weekday() >= 5 else 1.0)
        if rng.random() * top < weight:
            return at.replace(microsecond=0)


def _order_id(rng: random.Random, account: int) -> str:
    if account == 0:
        return f"11{rng.randint(1, 4)}-{rng.randint(1000000, 9999999)}-{rng.randint(1000000, 9999999)}"
    if account == 1:
        return str(rng.randint(10**14, 10**15 - 1))
    return f"AH-{rng.randint(10000, 99999)}"


def _inquiry(
    rng: random.Random,
    index: int,
    account: int,
    topic: str,
    sku: str,
    subject: str,
    body: str,
    received: datetime,
    now: datetime,
) -> PlannedInquiry:
    # The draws keep their order (name, address, order id, wording, priority, order): a seed
    # plans the same week.
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    address = _customer_address(rng, account, first, last)
    order_id = "" if topic == "question" else _order_id(rng, account)
    words = {"product": PRODUCT_NAMES[sku], "order": order_id}
    planned = PlannedInquiry(
        index=index,
        account=account,
        topic=topic,
        sku=sku,
        subject=subject.format(**words),
        body=" ".join(
            part
            for part in (
                rng.choice(OPENINGS),
                body.format(**words),
                rng.choice(DETAILS),
                rng.choice(CLOSINGS),
            )
            if part
        ),
        order_id=order_id,
        received_at=received,
        first_name=first,
        last_name=last,
        address=address,
        priority="high" if topic == "billing" or rng.random() < 0.04 else "normal",
    )
    if order_id:
        planned.order = _planned_order(rng, planned, now)
    return planned


def _customer_address(rng: random.Random, account: int, first: str, last: str) -> str:
    """Amazon's buyers write from an anonymous relay address; the others from their own."""
    if account == 0:
        return f"{''.join(rng.choices('abcdefghjkmnpqrstvwxyz0123456789', k=14))}@marketplace.amazon.example"
    return f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com"


def _planned_order(rng: random.Random, planned: PlannedInquiry, now: datetime) -> PlannedOrder:
    """The order the inquiry names, bought and shipped before it came; some complaints leave feedback."""
    topic, sku, received = planned.topic, planned.sku, planned.received_at
    purchased = received - timedelta(
        hours=rng.uniform(30, 240) if topic != "order_status" else rng.uniform(20, 60)
    )
    carrier, prefix = rng.choice(CARRIERS)
    order = PlannedOrder(
        order_id=planned.order_id,
        sku=sku,
        purchased_at=purchased.replace(microsecond=0),
        fba=carrier == "AMZN_US",
        shipped_at=(purchased + timedelta(hours=rng.uniform(4, 20))).replace(microsecond=0),
        carrier=carrier,
        tracking=f"{prefix}{rng.randint(10**11, 10**12 - 1)}",
        buyer_email=planned.address,
        status="Shipped" if topic in ("order_status", "delivery") else "Shipped - Delivered to Buyer",
    )
    if topic in ("quality", "damaged", "wrong_item") and rng.random() < 0.12:
        left = min(received + timedelta(hours=rng.uniform(2, 48)), now - timedelta(minutes=5))
        order.feedback = (rng.choice([1, 2]), f"{PRODUCT_NAMES[sku].capitalize()} was a letdown.", left)
    return order


def reply_time(rng: random.Random, received: datetime, tz: ZoneInfo, *, quick: bool = False) -> datetime:
    """When an agent answers a message: within the agents' day (the next morning for one that
    came at night), after 10 minutes to a bit over 3 hours; sooner when `quick`."""
    local = received.astimezone(tz)
    start_hour, end_hour = AGENT_DAY
    if start_hour <= local.hour < end_hour:
        start = received
    else:
        morning = local.replace(hour=start_hour, minute=0, second=0, microsecond=0)
        if local.hour >= end_hour:
            morning = (morning + timedelta(days=1)).replace(hour=start_hour)
        start = morning.astimezone(received.tzinfo) + timedelta(minutes=rng.uniform(0, 45))
    low, high = rng.choices([(10, 40), (40, 120), (120, 200)], weights=[45, 35, 20])[0]
    minutes = rng.uniform(5, 40) if quick else rng.uniform(low, high)
    if start.astimezone(tz).weekday() >= 5:
        minutes *= 1.3  # the weekend rota is thinner
    return (start + timedelta(minutes=minutes)).replace(microsecond=0)


def _plan_answers(
    rng: random.Random, planned: list[PlannedInquiry], now: datetime, tz: ZoneInfo, *, unanswered: int
) -> None:
    """Replies, follow-ups and statuses: about one in twenty answered late, `unanswered` older
    ones forgotten (the queue's few overdue rows), the newest still waiting for their answer."""
    candidates = [p for p in planned if timedelta(hours=26) < now - p.received_at < timedelta(hours=60)]
    forgotten = {p.index for p in rng.sample(candidates, k=min(unanswered, len(candidates)))}
    for p in planned:
        if p.index in forgotten:
            continue
        at = reply_time(rng, p.received_at, tz, quick=p.priority == "high")
        if now - p.received_at > timedelta(hours=40) and rng.random() < 0.05:
            p.late = True
            at += timedelta(hours=rng.uniform(5, 30))
        if at >= now:
            continue  # still waiting: the queue's running and at-risk rows
        # A reply the relay refuses (one in forty, as the demo's relay does) closes the case:
        # the buyer's mailbox is gone, there is no one left to answer.
        status = "solved" if refused(p.index) else _status(rng, at, now)
        p.reply = PlannedReply(at, rng.choice(ANSWERS[p.topic]), status)
        follow_at = (at + timedelta(hours=rng.uniform(1.5, 20))).replace(microsecond=0)
        if follow_at < now and rng.random() < 0.25:
            p.follow_up = (follow_at, FOLLOW_UPS[p.topic][0])
            second = reply_time(rng, follow_at, tz)
            if second < now:
                p.second_reply = PlannedReply(second, FOLLOW_UPS[p.topic][1], _status(rng, second, now))


def refused(index: int) -> bool:
    """Whether the demo's relay refuses this inquiry's replies (one in forty, for good)."""
    return index % 40 == 7


def _status(rng: random.Random, at: datetime, now: datetime) -> str:
    if now - at > timedelta(hours=24):
        return "solved" if rng.random() < 0.9 else "pending"
    return rng.choices(["solved", "pending", "open"], weights=[45, 35, 20])[0]


def _background_orders(rng: random.Random, now: datetime) -> list[PlannedOrder]:
    """The Amazon account's other orders over 60 days (about 20 a day), some with feedback."""
    orders = []
    for _ in range(60 * 20):
        purchased = (now - timedelta(seconds=rng.uniform(3600, 60 * 86400))).replace(microsecond=0)
        sku = rng.choice(PRODUCTS)[0]
        age = now - purchased
        carrier, prefix = rng.choices(CARRIERS, weights=[2, 1, 4])[0]
        order = PlannedOrder(
            order_id=_order_id(rng, 0),
            sku=sku,
            purchased_at=purchased,
            quantity=rng.choices([1, 2, 3], weights=[85, 12, 3])[0],
            fba=carrier == "AMZN_US",
            carrier=carrier,
            tracking=f"{prefix}{rng.randint(10**11, 10**12 - 1)}",
            buyer_email=f"{''.join(rng.choices('abcdefghjkmnpqrstvwxyz0123456789', k=14))}@marketplace.amazon.example",
        )
        if age < timedelta(hours=20):
            order.status, order.carrier, order.tracking = "Unshipped", "", ""
        else:
            order.shipped_at = (purchased + timedelta(hours=rng.uniform(3, 20))).replace(microsecond=0)
            order.status = "Shipped" if age < timedelta(days=4) else "Shipped - Delivered to Buyer"
            if rng.random() < 0.01:
                order.status, order.shipped_at, order.carrier, order.tracking = "Cancelled", None, "", ""
        if order.shipped_at and age > timedelta(days=5) and rng.random() < 0.08:
            rating = rng.choices([5, 4, 3, 2, 1], weights=[70, 18, 6, 3, 3])[0]
            comment = {
                5: "Lovely quality, fast delivery.",
                4: "Nice, as described.",
                3: "Fine, took a while.",
                2: "Smaller than expected.",
                1: "Arrived late and scuffed.",
            }[rating]
            left = min(purchased + timedelta(days=rng.uniform(4, 9)), now - timedelta(hours=1))
            order.feedback = (rating, comment, left)
        orders.append(order)
    return orders
