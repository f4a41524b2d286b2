"""Fill a fresh database for a benchmark: users, logged-in sessions and rooms.

Run as a subprocess by `bench.signaling`, with DATABASE_URL pointing at the
benchmark's own database (never the project's):

    python -m bench.fixtures --sessions FILE --users N --rooms PREFIX:COUNT:SIZE ...

Writes one session key per line to FILE, in user order.
"""

import argparse
import os
from datetime import timedelta
from pathlib import Path

BACKEND = "django.contrib.auth.backends.ModelBackend"
BATCH = 1000


def parse_room_spec(spec: str) -> tuple[str, int, int]:
    """`PREFIX:COUNT:SIZE` -> rooms PREFIX0..PREFIX<COUNT-1> holding SIZE people each."""
    prefix, count, size = spec.rsplit(":", 2)
    return prefix, int(count), int(size)


def create_users(count: int) -> list[int]:
    """`count` users with unusable passwords; returns their ids in order."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import User

    users = [User(username=f"bench{i}", password=make_password(None)) for i in range(count)]
    User.objects.bulk_create(users, batch_size=BATCH)
    return list(User.objects.filter(username__startswith="bench").order_by("id").values_list("id", flat=True))


def create_sessions(user_ids: list[int]) -> list[str]:
    """One logged-in database session per user, as `login()` would store it."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from accounts.models import User
    from accounts.sessions import new_session_key

    expiry = timezone.now() + timedelta(days=1)
    encoder = SessionStore()
    rows: list[Session] = []
    for user in User.objects.filter(id__in=user_ids).order_by("id"):
        data = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": BACKEND,
            "_auth_user_hash": user.get_session_auth_hash(),
        }
        rows.append(Session(session_key=new_session_key(), session_data=encoder.encode(data), expire_date=expiry))
    Session.objects.bulk_create(rows, batch_size=BATCH)
    return [row.session_key for row in rows]


def create_benchmark_rooms(specs: list[tuple[str, int, int]]) -> int:
    """Rooms without owner or password; bulk-created since create_room checks one slug at a time."""
    from rooms.models import Room
    from rooms.services import check_capacity

    rooms: list[Room] = []
    for prefix, count, size in specs:
        check_capacity(size)
        rooms.extend(Room(slug=f"{prefix}{k}", name=f"{prefix}{k}", max_participants=size) for k in range(count))
    Room.objects.bulk_create(rooms, batch_size=BATCH)
    return len(rooms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=Path, required=True, help="file to write session keys to")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--rooms", nargs="*", default=[], metavar="PREFIX:COUNT:SIZE")
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        parser.error("set DATABASE_URL to the benchmark's own database")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "audioexchange.settings")
    import django
    from django.core.management import call_command
    from django.db import transaction

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    with transaction.atomic():
        user_ids = create_users(args.users)
        keys = create_sessions(user_ids)
        rooms = create_benchmark_rooms([parse_room_spec(spec) for spec in args.rooms])
    args.sessions.write_text("\n".join(keys) + "\n")
    print(f"{len(keys)} sessions, {rooms} rooms")


if __name__ == "__main__":
    main()
