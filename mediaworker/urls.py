from django.urls import path

from mediaworker import views

urlpatterns = [
    path("rooms/<slug:slug>/recordings/", views.room_recordings, name="room-recordings"),
    path("recordings/<int:pk>/file/", views.recording_file, name="recording-file"),
]
