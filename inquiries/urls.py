from django.urls import path

from inquiries.views import clusters, health, inquiry, notifications, queue, reports

app_name = "inquiries"
urlpatterns = [
    path("", queue.queue, name="queue"),
    path("bulk/", queue.bulk, name="bulk"),
    path("density/", queue.density, name="density"),
    path("close-matching/", queue.close_matching, name="close_matching"),
    path("inquiries/<int:pk>/", inquiry.detail, name="detail"),
    path("inquiries/<int:pk>/reply/", inquiry.reply, name="reply"),
    path("inquiries/<int:pk>/note/", inquiry.reply, {"internal": True}, name="note"),
    path("inquiries/<int:pk>/update/", inquiry.update, name="update"),
    path("inquiries/<int:pk>/replies/<int:message_pk>/retry/", inquiry.retry_reply, name="retry_reply"),
    path("inquiries/<int:pk>/claim/", inquiry.claim, name="claim"),
    path("inquiries/<int:pk>/order/", inquiry.set_order, name="set_order"),
    path("inquiries/<int:pk>/no-response-needed/", inquiry.no_response_needed, name="no_response_needed"),
    path("inquiries/<int:pk>/attachments/<int:attachment_pk>/", inquiry.attachment, name="attachment"),
    path(
        "inquiries/<int:pk>/inline/<int:attachment_pk>/<str:token>/",
        inquiry.inline_image,
        name="inline-image",
    ),
    path("clusters/", clusters.cluster_list, name="cluster_list"),
    path("clusters/<int:pk>/", clusters.cluster_detail, name="cluster_detail"),
    path("clusters/<int:pk>/acknowledge/", clusters.acknowledge, name="cluster_acknowledge"),
    path("clusters/<int:pk>/action/", clusters.record_action, name="cluster_record"),
    path("clusters/<int:pk>/resolve/", clusters.resolve, name="cluster_resolve"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/bell/", notifications.bell, name="notifications-bell"),
    path("notifications/read/", notifications.mark_read, name="notifications-read"),
    path("notifications/preferences/", notifications.preferences, name="notifications-preferences"),
    path("notifications/language/", notifications.language, name="notifications-language"),
    path("notifications/time-zone/", notifications.time_zone, name="notifications-time-zone"),
]


urlpatterns += [
    path("reports/", reports.report_page, name="reports"),
    path("reports/<slug:table>.csv", reports.report_csv, name="report_csv"),
    path("reports/digest/", reports.subscribe, name="report_subscribe"),
    path("reports/digest/<int:pk>/delete/", reports.unsubscribe, name="report_unsubscribe"),
]


urlpatterns += [
    path("health/", health.overview, name="health"),
    path("health/<int:pk>/", health.account_page, name="health_account"),
    path("health/<int:pk>/plan/", health.plan, name="health_plan"),
    path("health/<int:pk>/plan.md", health.plan_markdown, name="health_plan_md"),
    path("health/<int:pk>/plan.pdf", health.plan_pdf, name="health_plan_pdf"),
    path(
        "health/<int:pk>/plan/annex/<slug:metric>.csv",
        health.plan_annex_csv,
        name="health_plan_annex_csv",
    ),
]
