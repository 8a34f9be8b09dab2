"""ASGI entry point: HTTP through the request body limit into Django, websockets through Channels
with session auth."""

import os
import sys
from pathlib import Path

# The platform/ source root (config, core) and the repository root (the domain apps).
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from core.middleware import RequestBodyLimit  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Outside Django, because Django reads the whole body before its own middleware runs.
        # Both ignores are disagreements between stub packages: django-stubs types the handler's
        # scope as a dict (asgiref's is a mapping) and its path() as returning a plain URLPattern.
        "http": RequestBodyLimit(django_asgi_app),  # type: ignore[arg-type]
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))  # type: ignore[arg-type]
        ),
    }
)
