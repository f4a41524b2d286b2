from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """A key for the REST API (`Authorization: Bearer <key>`), made by `manage.py createapikey`.

    Only the key's sha256 is stored (the key is 32 random bytes, so a fast hash is enough);
    `prefix` identifies it in the admin. A key with an `owner` acts as that user (their rooms,
    their rights); one without is the site's own and may manage every room.
    """

    name = models.CharField(max_length=80, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.BooleanField(default=False, help_text="A revoked key is refused at once.")

    class Meta:
        verbose_name = "API key"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"API key {self.name}"


class WebhookEndpoint(models.Model):
    """Where events are POSTed, signed with `secret` (Standard Webhooks). Managed in the admin;
    `WEBHOOK_URL`/`WEBHOOK_SECRET` make one by themselves (api.webhooks.endpoints)."""

    url = models.URLField(max_length=500, unique=True)
    secret = models.CharField(max_length=200, help_text="whsec_… (base64); the receiver verifies with it.")
    events = models.JSONField(default=list, blank=True, help_text="Event types to send; empty: every event.")
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


class WebhookDelivery(models.Model):
    """The outbox: one event for one endpoint, written when the event happens, sent by
    `manage.py deliverwebhooks` until the receiver answers 2xx or the retries run out."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.CharField(max_length=40, db_index=True, help_text="webhook-id: the same on every attempt.")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    next_attempt = models.DateTimeField(null=True, blank=True, db_index=True, help_text="Empty: nothing more to do.")
    attempts = models.PositiveIntegerField(default=0)
    delivered = models.DateTimeField(null=True, blank=True)
    failed = models.BooleanField(default=False, help_text="Every retry failed.")

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created", "-pk"]

    def __str__(self) -> str:
        return f"{self.event} {self.message_id} to {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One try at sending a delivery: the delivery log shown in the admin."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField(auto_now_add=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The receiver's HTTP status.")
    error = models.CharField(max_length=300, blank=True)
    seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"attempt at {self.at:%Y-%m-%d %H:%M:%S}: {self.status or self.error}"
