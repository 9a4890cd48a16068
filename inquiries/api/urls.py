from django.urls import include, path
from rest_framework.routers import DefaultRouter

from inquiries.api import complaints, config, macros, outbox_config, views

router = DefaultRouter()
router.register("accounts", views.AccountViewSet)
router.register("teams", views.TeamViewSet)
router.register("channels", views.ChannelViewSet)
router.register("calendars", config.CalendarViewSet)
router.register("sla-policies", config.PolicyViewSet)
router.register("reply-webhooks", outbox_config.ReplyWebhookViewSet)
router.register("macros", macros.MacroViewSet)  # issue 23

app_name = "api"
urlpatterns = [
    path("messages/", views.MessageCreateView.as_view(), name="message-create"),
    path("messages/batch/", views.MessageBatchView.as_view(), name="message-batch"),
    path("inquiries/", views.InquiryListView.as_view(), name="inquiry-list"),
    path("inquiries/<int:pk>/", views.InquiryDetailView.as_view(), name="inquiry-detail"),
    path("inquiries/<int:pk>/events/", views.InquiryEventListView.as_view(), name="inquiry-events"),
    path("", include(router.urls)),
    path("topics/", complaints.TopicListView.as_view(), name="topic-list"),
    path("clusters/", complaints.ClusterListView.as_view(), name="cluster-list"),
    path("clusters/<int:pk>/", complaints.ClusterDetailView.as_view(), name="cluster-detail"),
    path("clusters/<int:pk>/members/", complaints.ClusterMemberListView.as_view(), name="cluster-members"),
    path(
        "clusters/<int:pk>/acknowledge/",
        complaints.ClusterAcknowledgeView.as_view(),
        name="cluster-acknowledge",
    ),
    path("clusters/<int:pk>/action/", complaints.ClusterActionView.as_view(), name="cluster-action"),
    path("clusters/<int:pk>/resolve/", complaints.ClusterResolveView.as_view(), name="cluster-resolve"),
]

from inquiries.api import reports  # noqa: E402  (reports, issue 8)

urlpatterns += [
    path("reports/sla/", reports.ReportView.as_view(), name="report-sla"),
    path("reports/<slug:table>/", reports.ReportView.as_view(), name="report"),
]

from inquiries.api import health  # noqa: E402  (account health, issue 7)

urlpatterns += [
    path("accounts/<int:pk>/health/", health.AccountHealthView.as_view(), name="account-health"),
    path(
        "accounts/<int:pk>/health/history/",
        health.AccountHealthHistoryView.as_view(),
        name="account-health-history",
    ),
    path("accounts/<int:pk>/order-volumes/", health.OrderVolumesView.as_view(), name="account-order-volumes"),
]

from inquiries.api import orders  # noqa: E402  (order reports, issue 20)

urlpatterns += [
    path("accounts/<int:pk>/orders/import/", orders.OrderImportView.as_view(), name="account-orders-import"),
]

from inquiries.api import write  # noqa: E402  (the write API and the outbox, issue 18)

urlpatterns += [
    path("outbox/", write.OutboxView.as_view(), name="outbox"),
    path("replies/<int:pk>/delivered/", write.ReplyDeliveredView.as_view(), name="reply-delivered"),
    path("replies/<int:pk>/failed/", write.ReplyFailedView.as_view(), name="reply-failed"),
    path("inquiries/<int:pk>/reply/", write.ReplyView.as_view(), name="inquiry-reply"),
    path("inquiries/<int:pk>/note/", write.NoteView.as_view(), name="inquiry-note"),
    path("inquiries/<int:pk>/assign/", write.AssignView.as_view(), name="inquiry-assign"),
    path("inquiries/<int:pk>/claim/", write.ClaimView.as_view(), name="inquiry-claim"),
    path("inquiries/<int:pk>/status/", write.StatusView.as_view(), name="inquiry-status"),
    path("inquiries/<int:pk>/priority/", write.PriorityView.as_view(), name="inquiry-priority"),
    path("inquiries/<int:pk>/topic/", write.TopicView.as_view(), name="inquiry-topic"),
    path(
        "inquiries/<int:pk>/no-response-needed/",
        write.NoResponseNeededView.as_view(),
        name="inquiry-no-response-needed",
    ),
    path("inquiries/<int:pk>/close/", write.CloseView.as_view(), name="inquiry-close"),
]
