"""HTTP through Django; WebSockets (`ws/echo/`) through Channels when it is installed."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
django_app = get_asgi_application()

try:
    from channels.routing import ProtocolTypeRouter, URLRouter
except ImportError:
    application = django_app
else:
    from django.urls import path

    from bench.consumers import Echo

    application = ProtocolTypeRouter(
        {"http": django_app, "websocket": URLRouter([path("ws/echo/", Echo.as_asgi())])}
    )
