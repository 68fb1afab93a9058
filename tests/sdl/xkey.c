/* xkey: presses and releases a key in an X11 window, for
 * tests/sdl/test_record_ui.sh (no xdotool, no window manager on Xvfb).
 *
 *   xkey TITLE-PART KEYSYM [TIMEOUT-S]
 *
 * Waits up to TIMEOUT-S (default 10) for a window whose _NET_WM_NAME or
 * WM_NAME contains TITLE-PART, gives it the input focus and sends it a
 * KeyPress and a KeyRelease of KEYSYM ("p", "t", "Left": XStringToKeysym),
 * which SDL turns into SDL_KEYDOWN/SDL_KEYUP as for a typed key. Exit
 * status: 0 sent, 1 no such window, 2 usage, no display or unknown keysym.
 */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xfind.h"

/* A real timestamp (ms): SDL takes a release and a press of one key with
 * the same time as auto-repeat, and two presses would count as one. */
static Time now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (Time)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void send_key(Display *d, Window w, int type, KeyCode code)
{
    XEvent e;
    memset(&e, 0, sizeof e);
    e.xkey.type = type;
    e.xkey.display = d;
    e.xkey.window = w;
    e.xkey.root = DefaultRootWindow(d);
    e.xkey.subwindow = None;
    e.xkey.time = now_ms();
    e.xkey.same_screen = True;
    e.xkey.keycode = code;
    XSendEvent(d, w, True, type == KeyPress ? KeyPressMask : KeyReleaseMask, &e);
    XFlush(d);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s TITLE-PART KEYSYM [TIMEOUT-S]\n", argv[0]);
        return 2;
    }
    double timeout = argc > 3 ? atof(argv[3]) : 10.0;
    Display *d = XOpenDisplay(NULL);
    if (!d) {
        fprintf(stderr, "xkey: cannot open display\n");
        return 2;
    }
    KeySym sym = XStringToKeysym(argv[2]);
    KeyCode code = sym == NoSymbol ? 0 : XKeysymToKeycode(d, sym);
    if (!code) {
        fprintf(stderr, "xkey: unknown key \"%s\"\n", argv[2]);
        XCloseDisplay(d);
        return 2;
    }
    Atom net_name = XInternAtom(d, "_NET_WM_NAME", False);
    Window w = 0;
    for (double waited = 0;
         !(w = find(d, DefaultRootWindow(d), net_name, argv[1])) && waited < timeout;
         waited += 0.05)
        nanosleep(&(struct timespec){0, 50000000}, NULL); /* the window is not up yet */
    if (!w) {
        fprintf(stderr, "xkey: no window titled \"*%s*\"\n", argv[1]);
        XCloseDisplay(d);
        return 1;
    }
    XSetInputFocus(d, w, RevertToParent, CurrentTime);
    send_key(d, w, KeyPress, code);
    nanosleep(&(struct timespec){0, 50000000}, NULL);
    send_key(d, w, KeyRelease, code);
    XCloseDisplay(d);
    return 0;
}
