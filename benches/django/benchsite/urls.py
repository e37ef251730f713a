from django.urls import path

from bench import views

urlpatterns = [
    path("hello/", views.hello),
    path("mymodel/first-active/", views.first_active),
    path("accounts/me/", views.me),
]
