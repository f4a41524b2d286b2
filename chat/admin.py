from django.contrib import admin

from chat.models import ChatMessage


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ("created", "room", "author_name", "text")
    list_filter = ("room",)
    search_fields = ("author_name", "text", "room__slug")
    readonly_fields = ("room", "author", "author_name", "text", "created")
    date_hierarchy = "created"
