from django.urls import path

from inquiries import views

app_name = "inquiries"
urlpatterns = [
    path("", views.queue, name="queue"),
]
