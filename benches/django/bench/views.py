"""The demo's views, written as a Django user writes them (async views, the async ORM)."""
from django.http import JsonResponse

from .models import MyModel


async def hello(request):
    return JsonResponse({"message": "Hello"})


async def first_active(request):
    row = await MyModel.objects.filter(active=True).afirst()
    if row is None:
        return JsonResponse({"error": "no active MyModel"}, status=404)
    return JsonResponse({"id": row.id, "name": row.name, "active": row.active})


async def me(request):
    # The session is read and the user loaded, as canter's `req.user().await`.
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"username": None}, status=401)
    return JsonResponse({"username": user.username})
