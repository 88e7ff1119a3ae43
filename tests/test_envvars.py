"""The machine's time zone, as `make` writes it into .env; folders from the environment."""

import os
from pathlib import Path

from tradesim.envvars import folder, machine_time_zone


def never():
    raise FileNotFoundError("timedatectl")


def zone(tmp_path, *, environ=None, timezone_text=None, link_to=None, timedatectl=never):
    timezone_file = tmp_path / "timezone"
    if timezone_text is not None:
        timezone_file.write_text(timezone_text)
    localtime = tmp_path / "localtime"
    if link_to is not None:
        target = tmp_path / "usr/share/zoneinfo" / link_to
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"TZif")
        os.symlink(target, localtime)
    return machine_time_zone(
        environ=environ or {},
        timezone_file=str(timezone_file),
        localtime=str(localtime),
        timedatectl=timedatectl,
    )


def test_the_tz_variable_comes_first(tmp_path):
    assert zone(tmp_path, environ={"TZ": ":Europe/Paris"}, timezone_text="Asia/Tokyo\n") == (
        "Europe/Paris"
    )


def test_debian_s_etc_timezone(tmp_path):
    assert zone(tmp_path, timezone_text="America/Chicago\n") == "America/Chicago"


def test_the_zone_etc_localtime_links_to(tmp_path):
    assert zone(tmp_path, link_to="Australia/Sydney") == "Australia/Sydney"
    assert zone(tmp_path / "b", link_to="posix/Europe/Berlin") == "Europe/Berlin"


def test_timedatectl_when_the_files_say_nothing(tmp_path):
    assert zone(tmp_path, timedatectl=lambda: "Africa/Nairobi\n") == "Africa/Nairobi"


def test_an_unknown_name_is_skipped_for_the_next_source(tmp_path):
    assert (
        zone(
            tmp_path,
            environ={"TZ": "EST5EDT,M3.2.0"},
            timezone_text="Mars/Olympus\n",
            link_to="Europe/Rome",
        )
        == "Europe/Rome"
    )


def test_utc_when_nothing_is_known(tmp_path):
    assert zone(tmp_path) == "UTC"


def test_a_folder_is_taken_from_the_project_folder_unless_it_is_absolute():
    read = folder(base=Path("/srv/tradesim"))

    assert read("backups") == Path("/srv/tradesim/backups")
    assert read("/var/backups/tradesim") == Path("/var/backups/tradesim")
    assert read("~/backups") == Path.home() / "backups"
