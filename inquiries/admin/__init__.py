"""The admin is cstracker's configuration UI.

Staff who are not superusers see only their teams' accounts: the same
`visible_to(user)` scoping as the queue and the API. Inquiries, messages and events are
read-only here; they change through the app's services so every change has its event.

One module per concern; importing this package registers every model:
- `connectors.py`: the marketplace connectors (Amazon SP-API connections, their runs);
- `configuration.py`: accounts, channels, calendars, SLA policies (their form: `policies.py`),
  and the read-only inquiries, messages, events and clocks;
- `agents.py` (macros, the assignment rota), `complaints.py`, `health.py` (marketplace presets,
  snapshots), `held.py` (held replies and notes), `mail.py` (e-mail channels), `notifications.py`,
  `orders.py` (orders and their parts, marketplace metrics), `reports.py` (digests, rollups);
- `base.py`: the scoped and read-only admin classes they share.
"""

from inquiries.admin import (  # noqa: F401  (each registers its models on import)
    agents,
    complaints,
    configuration,
    connectors,
    health,
    held,
    mail,
    notifications,
    orders,
    reports,
)
