from django.urls import path

from rooms import views

urlpatterns = [
    path("", views.lobby, name="lobby"),
    path("rooms/<slug:slug>/", views.room, name="room"),
    path("rooms/<slug:slug>/edit/", views.room_edit, name="room-edit"),
    path("rooms/<slug:slug>/lock/", views.room_lock, name="room-lock"),
    path("rooms/<slug:slug>/delete/", views.room_delete, name="room-delete"),
]
