"""A recording's files go with its row, however the row is deleted.

`post_delete` fires for `Recording.delete()`, a queryset's `delete()` (the admin's bulk action)
and the cascade of a deleted room or owner alike. The files are removed once the transaction
commits, so a rollback keeps both the row and its files.
"""

import shutil
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from mediaworker import selectors
from mediaworker.models import Recording


@receiver(post_delete, sender=Recording, dispatch_uid="mediaworker.recording_files")
def remove_recording_files(sender: type[Recording], instance: Recording, using: str, **kwargs: Any) -> None:
    directory = selectors.recording_directory(instance)
    transaction.on_commit(partial(shutil.rmtree, directory, ignore_errors=True), using=using)
