from django.urls import path

from signaling import views

urlpatterns = [
    path("ice-servers/", views.ice_servers, name="ice-servers"),
]
