from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who can sign in; `display_name` is what others see in a call."""

    display_name = models.CharField(
        max_length=64, blank=True, help_text="Shown to others in rooms; defaults to the username."
    )

    @property
    def public_name(self) -> str:
        return self.display_name or self.username
