from django.urls import path

from inquiries import views

app_name = "inquiries"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("bulk/", views.bulk, name="bulk"),
    path("inquiries/<int:pk>/", views.detail, name="detail"),
    path("inquiries/<int:pk>/reply/", views.reply, name="reply"),
    path("inquiries/<int:pk>/note/", views.reply, {"internal": True}, name="note"),
    path("inquiries/<int:pk>/update/", views.update, name="update"),
    path("inquiries/<int:pk>/claim/", views.claim, name="claim"),
    path("inquiries/<int:pk>/no-response-needed/", views.no_response_needed, name="no_response_needed"),
    path("inquiries/<int:pk>/attachments/<int:attachment_pk>/", views.attachment, name="attachment"),
]
