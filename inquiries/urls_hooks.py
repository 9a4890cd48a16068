"""Mail provider webhooks, mounted at /hooks/ (outside the session-authenticated app)."""

from django.urls import path

from inquiries.views import hooks

app_name = "hooks"
urlpatterns = [
    path("<str:provider>/<str:token>/", hooks.inbound, name="inbound"),
    # Mailgun posts the raw MIME message only to a route URL ending in "mime".
    path("<str:provider>/<str:token>/mime", hooks.inbound, name="inbound-mime"),
]
