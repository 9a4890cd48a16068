from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InquiriesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "inquiries"
    verbose_name = _("Inquiries")

    def ready(self) -> None:
        # Register the Celery tasks in every process (web, commands, worker), not only where
        # the worker's autodiscovery imports them: services enqueue them by name from the
        # app's registry (`inquiries.services.queue`) and never import this module.
        # Not domain flow: the session remembers the user's language so that pages need no
        # query for it (`inquiries.middleware`).
        from django.contrib.auth.signals import user_logged_in

        from inquiries import tasks  # noqa: F401
        from inquiries.middleware import remember_language

        user_logged_in.connect(remember_language, dispatch_uid="cstracker-remember-language")

        # The pure modules' sentences (the plan of action) read in the active language.
        from decimal import Decimal

        from django.utils.formats import number_format
        from django.utils.translation import gettext, ngettext

        from inquiries import words

        words.install(
            gettext,
            ngettext,
            lambda n: number_format(n, force_grouping=True),
            # Rounded as Python rounds, then written with the reader's mark (number_format cuts floats).
            lambda value, places: number_format(Decimal(f"{value:.{places}f}"), places),
        )
