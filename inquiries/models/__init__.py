"""cstracker's data model, one module per concern; import names from here.

Every write goes through `inquiries.services`; `save()` only normalises its own row.
Deadlines are stored (Clock.due_at / warn_at) and indexed so the sweep is one query.
"""

from inquiries.models import lookups  # noqa: F401  (registers field__any)
from inquiries.models.agents import AssignmentMode, Rota, RotaMember
from inquiries.models.choices import (
    OPEN_STATUSES,
    PRIORITY_RANK,
    ChannelKind,
    Direction,
    Marketplace,
    Priority,
    Role,
    Status,
)
from inquiries.models.clocks import ACTIVE_CLOCK_STATES, Clock, ClockKind, ClockState
from inquiries.models.complaints import (
    ACTIVE_CLUSTER_STATES,
    RATE_CLUSTER_KINDS,
    Cluster,
    ClusterEvent,
    ClusterEventKind,
    ClusterKind,
    ClusterMember,
    ClusterState,
    ClusterSweepState,
    ComplaintFingerprint,
    Severity,
    TopicLabel,
    TopicModel,
    TopicModelOutcome,
)
from inquiries.models.config import (
    Account,
    Calendar,
    Channel,
    Holiday,
    Membership,
    RecomputeRun,
    SlaPolicy,
    SlaTarget,
    Team,
    Topic,
    TopicRule,
    validate_timezone,
)
from inquiries.models.inquiries import (
    Attachment,
    Customer,
    EventKind,
    Inquiry,
    InquiryEvent,
    Message,
    ReplyDelivery,
    normalise_address,
)
from inquiries.models.macros import Macro
from inquiries.models.notifications import (
    EscalationAction,
    EscalationRule,
    FailedTask,
    Notification,
    NotificationKind,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)
from inquiries.models.people import Density, Language, UserPreference

__all__ = [
    "ACTIVE_CLOCK_STATES",
    "ACTIVE_CLUSTER_STATES",
    "OPEN_STATUSES",
    "PRIORITY_RANK",
    "RATE_CLUSTER_KINDS",
    "Account",
    "AssignmentMode",
    "Attachment",
    "Calendar",
    "Channel",
    "ChannelKind",
    "Clock",
    "ClockKind",
    "ClockState",
    "Cluster",
    "ClusterEvent",
    "ClusterEventKind",
    "ClusterKind",
    "ClusterMember",
    "ClusterState",
    "ClusterSweepState",
    "ComplaintFingerprint",
    "Customer",
    "Density",
    "Direction",
    "EscalationAction",
    "EscalationRule",
    "EventKind",
    "FailedTask",
    "Holiday",
    "Inquiry",
    "InquiryEvent",
    "Language",
    "Macro",
    "Marketplace",
    "Membership",
    "Message",
    "Notification",
    "NotificationKind",
    "NotificationPreference",
    "Priority",
    "RecomputeRun",
    "ReplyDelivery",
    "Role",
    "Rota",
    "RotaMember",
    "Severity",
    "SlaPolicy",
    "SlaTarget",
    "Status",
    "Team",
    "Topic",
    "TopicLabel",
    "TopicModel",
    "TopicModelOutcome",
    "TopicRule",
    "UserPreference",
    "WebhookDelivery",
    "WebhookEndpoint",
    "normalise_address",
    "validate_timezone",
]

from inquiries.models.reports import (
    DigestFrequency,
    DurationRollup,
    ReportSubscription,
    SlaRollup,
    SlaRollupState,
    VolumeRollup,
)

__all__ += [
    "DigestFrequency",
    "DurationRollup",
    "ReportSubscription",
    "SlaRollup",
    "SlaRollupState",
    "VolumeRollup",
]

from inquiries.models.mail import (  # noqa: E402
    MailboxConfig,
    MailWebhook,
    MailWebhookToken,
    OutgoingMail,
    SuspendedSender,
    TlsMode,
)

__all__ += ["MailWebhook", "MailWebhookToken", "MailboxConfig", "OutgoingMail", "SuspendedSender", "TlsMode"]

from inquiries.models.health import HealthSnapshot, HealthStatus, MarketplacePreset, OrderVolume  # noqa: E402

__all__ += ["HealthSnapshot", "HealthStatus", "MarketplacePreset", "OrderVolume"]

from inquiries.models.held import HeldMessage, HeldState, HeldWait, WaitKind  # noqa: E402

__all__ += ["HeldMessage", "HeldState", "HeldWait", "WaitKind"]

from inquiries.models.orders import (  # noqa: E402
    Cancellation,
    CancelledBy,
    Claim,
    ClaimKind,
    ClaimOutcome,
    Feedback,
    FulfilmentChannel,
    MarketplaceMetric,
    Order,
    OrderLine,
    OrderStatus,
    Polarity,
    Return,
    Shipment,
)

__all__ += [
    "Cancellation",
    "CancelledBy",
    "Claim",
    "ClaimKind",
    "ClaimOutcome",
    "Feedback",
    "FulfilmentChannel",
    "MarketplaceMetric",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Polarity",
    "Return",
    "Shipment",
]

from inquiries.models.order_rollup import OrderMetricDay, OrderRollupState  # noqa: E402

__all__ += ["OrderMetricDay", "OrderRollupState"]

from inquiries.models.outbox import IdempotencyKey, OutboxOffer, ReplyWebhook  # noqa: E402

__all__ += ["IdempotencyKey", "OutboxOffer", "ReplyWebhook"]

from inquiries.models.connectors import AmazonConnection, ConnectorRun, RunState, SpApiRegion  # noqa: E402

__all__ += ["AmazonConnection", "ConnectorRun", "RunState", "SpApiRegion"]
