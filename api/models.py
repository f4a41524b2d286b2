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
