"""Agents polling the queue and an integration posting a burst of messages (no Django here).

Read from the environment (bench/load.py sets them):
  LOAD_SESSIONS  JSON file: {"sessions": [session keys], "inquiries": [ids], "token": "...",
                 "channel": "slug"}
  LOAD_POSTED    where the integration writes what it posted (external id, sent, answered)
Pick the user classes on the command line: `Agent` alone, or `Agent Integration` for the
burst (17 posters, one message a second each: about 1,000 in 60 s).
Every agent does what the browser does: the queue's rows every 15 s (htmx), the bell every
30 s, an inquiry page once a minute.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid

from locust import HttpUser, between, constant_pacing, events, task

with open(os.environ["LOAD_SESSIONS"]) as _setup:
    SETUP = json.load(_setup)
POSTED: list[tuple[str, float, float]] = []  # external id, sent at, answered at


class Agent(HttpUser):
    wait_time = between(0.2, 0.4)  # how often the loop looks at its timers

    def on_start(self) -> None:
        self.client.cookies.set("sessionid", random.choice(SETUP["sessions"]))
        # Agents opened their pages at different moments: each timer starts at a random phase.
        now = time.monotonic()
        self.next = {
            "rows": now + random.uniform(0, 15),
            "bell": now + random.uniform(0, 30),
            "inquiry": now + random.uniform(0, 60),
        }

    @task
    def poll(self) -> None:
        now = time.monotonic()
        if now >= self.next["rows"]:
            self.client.get(
                "/", headers={"HX-Request": "true", "HX-Target": "rows"}, name="queue rows (htmx)"
            )
            self.next["rows"] = now + 15
        if now >= self.next["bell"]:
            self.client.get("/notifications/bell/", headers={"HX-Request": "true"}, name="bell (htmx)")
            self.next["bell"] = now + 30
        if now >= self.next["inquiry"]:
            self.client.get(f"/inquiries/{random.choice(SETUP['inquiries'])}/", name="inquiry page")
            self.next["inquiry"] = now + 60


class Integration(HttpUser):
    fixed_count = 17
    wait_time = constant_pacing(1.0)

    @task
    def post_message(self) -> None:
        external_id = f"load-{uuid.uuid4()}"
        sent = time.time()
        with self.client.post(
            "/api/v1/messages/",
            json={
                "channel": SETUP["channel"],
                "external_id": external_id,
                "direction": "inbound",
                "sender": {"address": f"{external_id}@example.com", "name": "Load"},
                "subject": "Where is my parcel?",
                "body_text": "Ordered last week, nothing arrived yet.",
            },
            headers={"Authorization": f"Token {SETUP['token']}"},
            name="POST message",
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                POSTED.append((external_id, sent, time.time()))
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}")


@events.quitting.add_listener
def _save_posted(environment: object, **kwargs: object) -> None:
    path = os.environ.get("LOAD_POSTED")
    if path:
        with open(path, "w") as out:
            json.dump(POSTED, out)
