#!/usr/bin/env python3
"""Asks a top-level X11 window to close, as a window manager's close button does: a
WM_DELETE_WINDOW client message (no window manager runs under Xvfb, so nothing else would send
it). Usage: DISPLAY=:N x11_close.py TITLE. Exits 1 when no window has that title."""
import ctypes
import sys

x = ctypes.cdll.LoadLibrary("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XDefaultRootWindow.restype = ctypes.c_ulong
x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                         ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
                         ctypes.POINTER(ctypes.c_uint)]
x.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_char_p)]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
x.XFlush.argtypes = [ctypes.c_void_p]


class ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5), ("pad", ctypes.c_long * 12)]


CLIENT_MESSAGE = 33


def windows(dpy, parent):
    root, par, children, n = ctypes.c_ulong(), ctypes.c_ulong(), ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
    if not x.XQueryTree(dpy, parent, ctypes.byref(root), ctypes.byref(par), ctypes.byref(children), ctypes.byref(n)):
        return
    for i in range(n.value):
        yield children[i]
        yield from windows(dpy, children[i])


def main():
    title = sys.argv[1].encode()
    dpy = x.XOpenDisplay(None)
    if not dpy:
        sys.exit("cannot open the display (is DISPLAY set?)")
    protocols = x.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
    delete = x.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
    for win in windows(dpy, x.XDefaultRootWindow(dpy)):
        name = ctypes.c_char_p()
        if x.XFetchName(dpy, win, ctypes.byref(name)) and name.value == title:
            event = ClientMessage(type=CLIENT_MESSAGE, window=win, message_type=protocols, format=32)
            event.data[0] = delete
            x.XSendEvent(dpy, win, 0, 0, ctypes.byref(event))
            x.XFlush(dpy)
            return
    sys.exit(1)


main()
