"""Settings for `make run`: the embedded defaults, with DEBUG on."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Serve static files straight from the source folders, no collectstatic needed.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Webhooks to a receiver on this machine (http://127.0.0.1:…) are allowed locally.
INTAKE_WEBHOOKS_ALLOW_LOOPBACK = env.bool("INTAKE_WEBHOOKS_ALLOW_LOOPBACK", default=True)
