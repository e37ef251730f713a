"""Channels' side of the WebSocket echo in benches/django_run.sh."""
from channels.generic.websocket import AsyncWebsocketConsumer


class Echo(AsyncWebsocketConsumer):
    """Sends every frame back, as canter's ws_bench_server echo consumer does."""

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data, bytes_data=bytes_data)
