from django.urls import path, re_path

from rooms import views

urlpatterns = [
    path("", views.lobby, name="lobby"),
    path("rooms/<slug:slug>/", views.room, name="room"),
    path("rooms/<slug:slug>/edit/", views.room_edit, name="room-edit"),
    path("rooms/<slug:slug>/lock/", views.room_lock, name="room-lock"),
    path("rooms/<slug:slug>/delete/", views.room_delete, name="room-delete"),
    # Anything else at /rooms/<one part>/ cannot be a room: our own not-found page, not Django's.
    re_path(r"^rooms/(?P<address>[^/]+)/?$", views.not_a_room_address),
]
