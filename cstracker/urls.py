from csp.decorators import csp_replace
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico whatever the page says; send them to the static icon."""

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("favicon.svg")


urlpatterns = [
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up code as a script file: no inline script, so
    # the page works under the Content-Security-Policy. (ReDoc was removed: it loads its
    # fonts from a CDN.)
    # Swagger UI styles itself with inline <style> elements: allowed on this page alone, and for
    # styles only (scripts stay 'self').
    path(
        "api/docs/",
        csp_replace({"style-src": ["'self'", "'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="schema")
        ),
        name="api-docs",
    ),
    path("api/v1/", include("inquiries.api.urls")),
    path("hooks/", include("inquiries.urls_hooks")),
    path("", include("inquiries.urls")),
]
