"""The web pages, one module per feature: the queue and the inquiry page (`inquiries.py`),
complaint clusters, account health, notifications, reports, and the provider webhooks (`hooks.py`).
The URLs that route to them are in `inquiries/urls.py` and `inquiries/urls_hooks.py`."""
