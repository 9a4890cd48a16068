"""Reading the Customer Support on Twitter sample (tests only: CC BY-NC-SA, never shipped).

Rows are validated one by one: the file has a row whose unquoted text holds raw carriage
returns, which a strict CSV reader splits into fragments; those are rejected here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime

from tests.shared_data import shared_file


@dataclass(frozen=True)
class Tweet:
    tweet_id: str
    author_id: str
    inbound: bool
    created_at: datetime
    text: str
    in_response_to: str  # "" when it starts a thread


def load_tweets() -> tuple[list[Tweet], int]:
    """Valid tweets in time order (ties by id), and how many records were rejected."""
    path = shared_file("twcs", "twcs_head5000.csv")
    tweets: list[Tweet] = []
    rejected = 0
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        next(reader)
        for row in reader:
            try:
                _index, tweet_id, author, inbound, created, text, _responses, parent = row
                tweets.append(
                    Tweet(
                        tweet_id=str(int(tweet_id)),
                        author_id=author,
                        inbound={"True": True, "False": False}[inbound],
                        created_at=datetime.strptime(created, "%a %b %d %H:%M:%S %z %Y"),
                        text=text,
                        in_response_to=str(int(float(parent))) if parent else "",
                    )
                )
            except (ValueError, KeyError):
                rejected += 1
    tweets.sort(key=lambda t: (t.created_at, int(t.tweet_id)))
    return tweets, rejected


def company_of(tweet: Tweet, companies: set[str], known: dict[str, str]) -> str | None:
    """Which company a tweet belongs to: its author, its parent's company, or the first @mention."""
    if not tweet.inbound:
        return tweet.author_id
    if tweet.in_response_to in known:
        return known[tweet.in_response_to]
    for word in tweet.text.split():
        if word.startswith("@") and word[1:].rstrip(":,.!?") in companies:
            return word[1:].rstrip(":,.!?")
    return None


def replay(tweets: list[Tweet], *, marketplace: str) -> tuple[dict[str, object], int]:
    """Record the tweets through the one write path, one account and channel per company.

    Customer tweets are inbound, company tweets outbound replies threading by
    in_response_to_tweet_id. Returns the accounts by company and how many tweets were
    refused or held (company tweets answering nothing stored: broadcasts, dangling parents).
    """
    from inquiries import services
    from inquiries.ingestion.types import Direction, IncomingMessage, Rejected
    from inquiries.models import Account, Channel
    from inquiries.services.recording import Held

    companies = {t.author_id for t in tweets if not t.inbound}
    accounts, channels = {}, {}
    for name in sorted(companies):
        accounts[name] = Account.objects.create(name=name, marketplace=marketplace)
        channels[name] = Channel.objects.create(
            account=accounts[name], slug=f"twcs-{name.lower()}", name=name
        )
    owner_of: dict[str, str] = {}
    refused = 0
    for tweet in tweets:
        owner = company_of(tweet, companies, owner_of)
        if owner is None:
            continue
        owner_of[tweet.tweet_id] = owner
        try:
            outcome = services.record_message(
                channel=channels[owner],
                incoming=IncomingMessage(
                    external_id=tweet.tweet_id,
                    direction=Direction.INBOUND if tweet.inbound else Direction.OUTBOUND,
                    sender_address=tweet.author_id,
                    body_text=tweet.text,
                    received_at=tweet.created_at,
                    in_reply_to=tweet.in_response_to,
                ),
            )
        except Rejected:
            refused += 1
        else:
            refused += isinstance(outcome, Held)
    return accounts, refused
