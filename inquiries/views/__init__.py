"""The web pages, one module per feature: the queue and its bulk actions (`queue.py`),
the inquiry page and its actions (`inquiry.py`), with the badges both show (`badges.py`),
complaint clusters, account health, notifications, reports, and the provider webhooks (`hooks.py`).
The URLs that route to them are in `inquiries/urls.py` and `inquiries/urls_hooks.py`."""
