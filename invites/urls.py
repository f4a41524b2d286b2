from django.urls import path

from invites import views

urlpatterns = [
    path("i/<str:token>/", views.invite, name="invite"),
    path("rooms/<slug:slug>/invites/", views.room_invites, name="room-invites"),
    path("rooms/<slug:slug>/invites/revoke/", views.revoke_invite, name="room-invite-revoke"),
]
