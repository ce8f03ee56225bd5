#!/usr/bin/python3
"""Reads and clicks Area's tray menu as a desktop panel does: over the session bus, through the
StatusNotifierItem that `area tray` (process PID) exports and its com.canonical.dbusmenu menu.

Usage: tray_menu.py PID            prints the menu's labels as JSON
       tray_menu.py PID LABEL      clicks the item labelled LABEL
"""
import json
import sys
import time

import dbus


def item_name(bus, pid):
    prefix = f"org.kde.StatusNotifierItem-{pid}-"
    for name in bus.list_names():
        if str(name).startswith(prefix):
            return str(name)
    sys.exit(f"no StatusNotifierItem of process {pid} on the session bus")


def items(layout):
    _id, props, children = layout
    found = [(int(_id), str(props["label"]))] if "label" in props else []
    for child in children:
        found += items(child)
    return found


def main():
    pid = sys.argv[1]
    bus = dbus.SessionBus()
    menu = dbus.Interface(bus.get_object(item_name(bus, pid), "/MenuBar"), "com.canonical.dbusmenu")
    _revision, layout = menu.GetLayout(0, -1, [])
    labels = items(layout)
    if len(sys.argv) < 3:
        print(json.dumps([label for _, label in labels]))
        return
    wanted = sys.argv[2]
    ids = [i for i, label in labels if label == wanted]
    if not ids:
        sys.exit(f"no menu item {wanted!r} in {labels}")
    menu.Event(ids[0], "clicked", dbus.Int32(0, variant_level=1), dbus.UInt32(int(time.time())))


if __name__ == "__main__":
    main()
