"""The API is throttled per token and per client address; a refused request is a 429 with
Retry-After, and other tokens and addresses are not held back."""

from __future__ import annotations

import pytest
from rest_framework.throttling import SimpleRateThrottle

from tests.conftest import token_client


@pytest.fixture
def low_rates(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "address": "5/min"})


def test_a_token_over_its_rate_gets_429_with_retry_after(low_rates, agent, teammate, channel):
    client = token_client(agent)

    answers = [client.get("/api/v1/inquiries/").status_code for _ in range(4)]
    refused = client.get("/api/v1/inquiries/")

    assert answers == [200, 200, 200, 429]
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()


def test_one_address_with_many_tokens_is_throttled_as_one(low_rates, agent, teammate, manager, channel):
    clients = [token_client(user) for user in (agent, teammate, manager)]

    answers = [client.get("/api/v1/inquiries/").status_code for client in clients for _ in range(2)]

    assert answers.count(429) == 1 and answers[-1] == 429  # the sixth request from one address


def test_another_address_is_not_held_back(low_rates, agent, teammate, channel):
    client = token_client(agent)
    for _ in range(3):
        client.get("/api/v1/inquiries/", REMOTE_ADDR="192.0.2.1")

    other = token_client(teammate).get("/api/v1/inquiries/", REMOTE_ADDR="192.0.2.2")

    assert other.status_code == 200
