"""Clocks on inquiries: start, stop, pause, resume, recompute, and the sweep.

The rules are DESIGN section 3. What a clock counts against (business calendars, the
marketplace presets' reply rules) is read in `selectors/calendars.py` and
`selectors/marketplace_rules.py`. The package is split along the clock's life:

- `policies`: which SLA policy applies and the targets it sets;
- `events`: the live states and the event rows every transition writes;
- `starting`, `stopping`: starting clocks; stopping, pausing, resuming, catching up;
- `messages`, `status`: how messages and status changes move the clocks;
- `urgency`: the queue's urgency columns on the inquiry;
- `recompute`: recomputing live clocks after the configuration changed.

Many modules (the recording engine, actions, delivery, the health service) call the clock service
as `clocks.<function>`, so the public functions are exposed here; code inside the package
imports from the submodule that defines them. Settings a test may patch (such as
`recompute.RECOMPUTE_PROGRESS_EVERY`) are left out, so that patching them here fails loudly.
"""

from inquiries.services.clocks.events import (
    ACTIVE,
    REPLY_KINDS,
    STATE_EVENT,
    started_event_values,
    started_events,
)
from inquiries.services.clocks.messages import (
    cancel_reply_clocks,
    first_answer,
    on_answer_withdrawn,
    on_message,
    on_reply,
)
from inquiries.services.clocks.policies import (
    TARGET_FIELD,
    active_policy_set,
    one_policy_set,
    select_policy,
)
from inquiries.services.clocks.recompute import (
    inquiries_with_running_clocks,
    recompute_inquiry,
    recompute_many,
)
from inquiries.services.clocks.starting import follow_up_clocks, opening_clocks
from inquiries.services.clocks.status import on_close_many, on_status_change
from inquiries.services.clocks.stopping import (
    STOP_FIELDS,
    CatchUp,
    cancel_clock,
    catch_up,
    resolution_stands_still,
    stop_clock,
)
from inquiries.services.clocks.urgency import URGENCY_FIELDS, apply_urgency, refresh_urgency, urgency_of

__all__ = [
    "ACTIVE",
    "REPLY_KINDS",
    "STATE_EVENT",
    "STOP_FIELDS",
    "TARGET_FIELD",
    "URGENCY_FIELDS",
    "CatchUp",
    "active_policy_set",
    "apply_urgency",
    "cancel_clock",
    "cancel_reply_clocks",
    "catch_up",
    "first_answer",
    "follow_up_clocks",
    "inquiries_with_running_clocks",
    "on_answer_withdrawn",
    "on_close_many",
    "on_message",
    "on_reply",
    "on_status_change",
    "one_policy_set",
    "opening_clocks",
    "recompute_inquiry",
    "recompute_many",
    "refresh_urgency",
    "resolution_stands_still",
    "select_policy",
    "started_event_values",
    "started_events",
    "stop_clock",
    "urgency_of",
]
