from django.urls import path

from inquiries import views, views_clusters, views_notifications

app_name = "inquiries"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("bulk/", views.bulk, name="bulk"),
    path("density/", views.density, name="density"),
    path("close-matching/", views.close_matching, name="close_matching"),
    path("inquiries/<int:pk>/", views.detail, name="detail"),
    path("inquiries/<int:pk>/reply/", views.reply, name="reply"),
    path("inquiries/<int:pk>/note/", views.reply, {"internal": True}, name="note"),
    path("inquiries/<int:pk>/update/", views.update, name="update"),
    path("inquiries/<int:pk>/replies/<int:message_pk>/retry/", views.retry_reply, name="retry_reply"),
    path("inquiries/<int:pk>/claim/", views.claim, name="claim"),
    path("inquiries/<int:pk>/order/", views.set_order, name="set_order"),
    path("inquiries/<int:pk>/no-response-needed/", views.no_response_needed, name="no_response_needed"),
    path("inquiries/<int:pk>/attachments/<int:attachment_pk>/", views.attachment, name="attachment"),
    path(
        "inquiries/<int:pk>/inline/<int:attachment_pk>/<str:token>/", views.inline_image, name="inline-image"
    ),
    path("clusters/", views_clusters.cluster_list, name="cluster_list"),
    path("clusters/<int:pk>/", views_clusters.cluster_detail, name="cluster_detail"),
    path("clusters/<int:pk>/acknowledge/", views_clusters.acknowledge, name="cluster_acknowledge"),
    path("clusters/<int:pk>/action/", views_clusters.record_action, name="cluster_record"),
    path("clusters/<int:pk>/resolve/", views_clusters.resolve, name="cluster_resolve"),
    path("notifications/", views_notifications.notification_list, name="notifications"),
    path("notifications/bell/", views_notifications.bell, name="notifications-bell"),
    path("notifications/read/", views_notifications.mark_read, name="notifications-read"),
    path("notifications/preferences/", views_notifications.preferences, name="notifications-preferences"),
    path("notifications/language/", views_notifications.language, name="notifications-language"),
    path("notifications/time-zone/", views_notifications.time_zone, name="notifications-time-zone"),
]

from inquiries import views_reports  # noqa: E402  (reports, issue 8)

urlpatterns += [
    path("reports/", views_reports.report_page, name="reports"),
    path("reports/<slug:table>.csv", views_reports.report_csv, name="report_csv"),
    path("reports/digest/", views_reports.subscribe, name="report_subscribe"),
    path("reports/digest/<int:pk>/delete/", views_reports.unsubscribe, name="report_unsubscribe"),
]

from inquiries import views_health  # noqa: E402  (account health, issue 7)

urlpatterns += [
    path("health/", views_health.overview, name="health"),
    path("health/<int:pk>/", views_health.account_page, name="health_account"),
    path("health/<int:pk>/plan/", views_health.plan, name="health_plan"),
    path("health/<int:pk>/plan.md", views_health.plan_markdown, name="health_plan_md"),
    path("health/<int:pk>/plan.pdf", views_health.plan_pdf, name="health_plan_pdf"),
    path(
        "health/<int:pk>/plan/annex/<slug:metric>.csv",
        views_health.plan_annex_csv,
        name="health_plan_annex_csv",
    ),
]
