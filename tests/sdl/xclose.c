/* xclose: closes an X11 window the way a window manager's close button does,
 * for tests/sdl/test_window_close.sh (there is no window manager on Xvfb).
 *
 *   xclose TITLE-PART [TIMEOUT-S]
 *
 * Waits up to TIMEOUT-S (default 10) for a window whose _NET_WM_NAME or
 * WM_NAME contains TITLE-PART, then sends it the ICCCM WM_DELETE_WINDOW
 * client message (ICCCM 4.2.8.1), which SDL turns into SDL_WINDOWEVENT_CLOSE
 * and, for the last window, SDL_QUIT. Exit status: 0 sent, 1 no such window,
 * 2 usage or no display.
 */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xfind.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s TITLE-PART [TIMEOUT-S]\n", argv[0]);
        return 2;
    }
    double timeout = argc > 2 ? atof(argv[2]) : 10.0;
    Display *d = XOpenDisplay(NULL);
    if (!d) {
        fprintf(stderr, "xclose: cannot open display\n");
        return 2;
    }
    Atom net_name = XInternAtom(d, "_NET_WM_NAME", False);
    Window w = 0;
    for (double waited = 0;
         !(w = find(d, DefaultRootWindow(d), net_name, argv[1])) && waited < timeout;
         waited += 0.05)
        nanosleep(&(struct timespec){0, 50000000}, NULL); /* the window is not up yet */
    if (!w) {
        fprintf(stderr, "xclose: no window titled \"*%s*\"\n", argv[1]);
        XCloseDisplay(d);
        return 1;
    }
    XEvent e;
    memset(&e, 0, sizeof e);
    e.xclient.type = ClientMessage;
    e.xclient.window = w;
    e.xclient.message_type = XInternAtom(d, "WM_PROTOCOLS", False);
    e.xclient.format = 32;
    e.xclient.data.l[0] = (long)XInternAtom(d, "WM_DELETE_WINDOW", False);
    e.xclient.data.l[1] = CurrentTime;
    XSendEvent(d, w, False, NoEventMask, &e);
    XSync(d, False);
    XCloseDisplay(d);
    printf("xclose: WM_DELETE_WINDOW sent to window 0x%lx\n", (unsigned long)w);
    return 0;
}
