"""Finding a job's processes that outlived it (shared by the hostile-program suites)."""

import os


def survivors(marker: str) -> list[int]:
    """Pids whose command line contains ``marker`` (a job's processes that outlived it)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read():
                        found.append(int(entry.name))
            except OSError:
                pass
    return found
